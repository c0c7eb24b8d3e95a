//! Checkpoint save/load of weights and AdamW state on a small two-part module: a resumed
//! optimizer continues bit-identically, and a frozen (`no_grad`) part gets no gradient,
//! no optimizer state and stays bit-identical.

use burn::tensor::backend::Backend;
use burn::{
    module::Module,
    nn::{Linear, LinearConfig},
    optim::{AdamWConfig, GradientsParams, Optimizer},
    tensor::{Distribution, Tensor},
};
use hico_backend::CpuAutodiff as AD;
use hico_train::{
    checkpoint::{self, TrainState},
    rng::TrainRng,
};

#[derive(Module, Debug)]
struct Two<B: Backend> {
    a: Linear<B>,
    b: Linear<B>,
}

fn model() -> Two<AD> {
    let dev = Default::default();
    <AD as Backend>::seed(&dev, 1);
    Two {
        a: LinearConfig::new(4, 4).init(&dev),
        b: LinearConfig::new(4, 2).init(&dev).no_grad(),
    }
}

fn step<O: Optimizer<Two<AD>, AD>>(m: Two<AD>, o: &mut O, i: usize) -> Two<AD> {
    let dev = Default::default();
    <AD as Backend>::seed(&dev, 100 + i as u64);
    let x = Tensor::<AD, 2>::random([3, 4], Distribution::Normal(0.0, 1.0), &dev);
    let loss = m.b.forward(m.a.forward(x)).powi_scalar(2).mean();
    let grads = GradientsParams::from_grads(loss.backward(), &m);
    o.step(1e-2, m, grads)
}

fn flat(m: &Two<AD>) -> (Vec<f32>, Vec<f32>) {
    let w = |l: &Linear<AD>| l.weight.val().into_data().to_vec::<f32>().unwrap();
    (w(&m.a), w(&m.b))
}

#[test]
fn resumed_optimizer_continues_exactly_and_frozen_part_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = AdamWConfig::new().init::<AD, Two<AD>>();
    let mut m = model();
    let b0 = flat(&m).1;
    for i in 0..2 {
        m = step(m, &mut o, i);
    }
    let state = TrainState {
        stage: "t".into(),
        step: 2,
        total_steps: 5,
        epoch: 0,
        position: 2,
        order_seed: 0,
        rng: TrainRng::new(0),
        skipped: 0,
        last_loss: 0.0,
    };
    let ck = checkpoint::save(dir.path(), &state, &m, &o, 2).unwrap();
    assert_eq!(checkpoint::latest(dir.path()).unwrap(), Some(ck.clone()));
    assert_eq!(checkpoint::load_state(&ck).unwrap(), state);
    for i in 2..5 {
        m = step(m, &mut o, i);
    }
    let dev = Default::default();
    let mut m2 = checkpoint::load_weights(model(), &ck, &dev).unwrap();
    m2.b = m2.b.no_grad();
    let mut o2 = checkpoint::load_optim::<AD, Two<AD>, _>(
        AdamWConfig::new().init::<AD, Two<AD>>(),
        &ck,
        &dev,
    )
    .unwrap();
    assert_eq!(
        o2.to_record().len(),
        2,
        "only a's weight and bias have state"
    );
    for i in 2..5 {
        m2 = step(m2, &mut o2, i);
    }
    assert_eq!(flat(&m), flat(&m2), "resumed run diverged");
    assert_eq!(flat(&m).1, b0, "frozen part changed");
}
