//! The training optimizer: AdamW whose step is one pass per parameter on the CPU backend.
//!
//! [`AdamW`] is burn's AdamW (same hyper-parameters, same state record, so checkpoints
//! written before it load and resume unchanged) with the per-parameter update done by
//! `HicoBackend::adamw` (the kernel `hico_kernels::adamw` on burn's flex backend): one read of
//! the parameter, gradient and moments and one write of each, in place of about a dozen
//! tensor ops with a fresh buffer each. The kernel repeats burn's arithmetic in burn's order,
//! so both give the same bits (tested below). Other backends (burn-cuda) and AMSGrad take
//! burn's composed step.

use burn::{
    optim::{
        AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, SimpleOptimizer,
        adaptor::OptimizerAdaptor, grad_clipping::GradientClippingConfig,
    },
    tensor::Tensor,
};
use hico_backend::{AdamWStep, HicoAutodiff, HicoBackend};

/// AdamW (decoupled weight decay) with a fused CPU step; see the module docs.
#[derive(Clone)]
pub struct AdamW {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    weight_decay: f32,
    /// burn's AdamW with the same settings: the step on every other backend.
    composed: burn::optim::AdamW,
}

impl AdamW {
    /// AdamW with β = (0.9, 0.999) (burn's defaults), `epsilon` and `weight_decay`.
    pub fn new(epsilon: f32, weight_decay: f32) -> Self {
        let config = AdamWConfig::new()
            .with_beta_1(0.9)
            .with_beta_2(0.999)
            .with_epsilon(epsilon)
            .with_weight_decay(weight_decay);
        Self {
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon,
            weight_decay,
            composed: config.build(),
        }
    }

    /// The optimizer over a module's parameters, with optional clipping of each gradient.
    pub fn init<B: HicoAutodiff, M: burn::module::AutodiffModule<B>>(
        self,
        clipping: Option<GradientClippingConfig>,
    ) -> OptimizerAdaptor<Self, M, B> {
        let optim = OptimizerAdaptor::from(self);
        match clipping {
            Some(c) => optim.with_grad_clipping(c.init()),
            None => optim,
        }
    }
}

impl<B: HicoBackend> SimpleOptimizer<B> for AdamW {
    type State<const D: usize> = AdamWState<B, D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<B, D>,
        grad: Tensor<B, D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<B, D>, Option<Self::State<D>>) {
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        let step = AdamWStep {
            lr,
            beta_1: self.beta_1,
            beta_2: self.beta_2,
            epsilon: self.epsilon,
            weight_decay: self.weight_decay,
            time: i32::try_from(time).unwrap_or(i32::MAX),
        };
        let moments = state.map(|s| (s.momentum.moment_1, s.momentum.moment_2));
        match B::adamw(&step, (tensor, grad, moments)) {
            Ok((tensor, moment_1, moment_2)) => {
                let momentum = AdaptiveMomentumState {
                    time,
                    moment_1,
                    moment_2,
                    max_moment_2: None,
                };
                (tensor, Some(AdamWState { momentum }))
            }
            Err((tensor, grad, moments)) => {
                let state = moments.map(|(moment_1, moment_2)| AdamWState {
                    momentum: AdaptiveMomentumState {
                        time: time - 1,
                        moment_1,
                        moment_2,
                        max_moment_2: None,
                    },
                });
                self.composed.step(lr, tensor, grad, state)
            }
        }
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &B::Device) -> Self::State<D> {
        <burn::optim::AdamW as SimpleOptimizer<B>>::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::{
        module::{Module, Param},
        nn::{Linear, LinearConfig},
        optim::{GradientsParams, Optimizer},
        tensor::TensorData,
    };
    use hico_backend::{Cpu, CpuAutodiff};

    /// Deterministic values in about [-1, 1] (no global RNG: tests run in parallel).
    fn wave(n: usize, salt: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i * 7919 + salt * 104_729) % 2001) as f32 - 1000.0) / 1000.0)
            .collect()
    }

    /// A linear layer `[40 → 300]` with fixed weights.
    fn start() -> Linear<CpuAutodiff> {
        let device = Default::default();
        let mut model = LinearConfig::new(40, 300).init::<CpuAutodiff>(&device);
        let w = TensorData::new(wave(40 * 300, 1), [40, 300]);
        model.weight = Param::from_tensor(Tensor::from_data(w, &device));
        model.bias = Some(Param::from_tensor(Tensor::from_data(
            TensorData::new(wave(300, 2), [300]),
            &device,
        )));
        model
    }

    /// Three steps of training a linear layer from [`start`] with `optim`.
    fn train<O: Optimizer<Linear<CpuAutodiff>, CpuAutodiff>>(mut optim: O) -> Linear<CpuAutodiff> {
        let device = Default::default();
        let mut model = start();
        for step in 0..3 {
            let x = TensorData::new(wave(5 * 40, 10 + step), [5, 40]);
            let x = Tensor::<CpuAutodiff, 2>::from_data(x, &device);
            let loss = model.forward(x).powi_scalar(2).mean();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(1e-2, model, grads);
        }
        model
    }

    fn values(p: &Param<Tensor<CpuAutodiff, 2>>) -> Vec<f32> {
        p.val().into_data().to_vec().unwrap()
    }

    #[test]
    fn fused_steps_equal_burns_adamw_bit_for_bit() {
        let clip = || Some(GradientClippingConfig::Norm(1.0));
        let ours = train(AdamW::new(1e-8, 0.05).init::<CpuAutodiff, Linear<CpuAutodiff>>(clip()));
        let burns = train(
            AdamWConfig::new()
                .with_epsilon(1e-8)
                .with_weight_decay(0.05)
                .with_grad_clipping(clip())
                .init::<CpuAutodiff, Linear<CpuAutodiff>>(),
        );
        let (a, b) = (values(&ours.weight), values(&burns.weight));
        let differ: Vec<(usize, f32, f32)> = (0..a.len())
            .filter(|&i| a[i] != b[i])
            .map(|i| (i, a[i], b[i]))
            .collect();
        assert!(
            differ.is_empty(),
            "{} of {} differ, first {:?}",
            differ.len(),
            a.len(),
            &differ[..differ.len().min(4)]
        );
        let bias = |m: &Linear<CpuAutodiff>| m.bias.as_ref().map(|b| b.val().into_data());
        assert_eq!(bias(&ours), bias(&burns));
        // And the parameters moved.
        assert_ne!(values(&ours.weight), values(&start().weight));
    }

    #[test]
    fn shared_buffers_are_not_written_through() {
        // The parameter's buffer held elsewhere too (a clone) must keep its old values.
        let device = Default::default();
        let p = Tensor::<Cpu, 1>::from_data(TensorData::from([1.0f32, -2.0, 3.0]), &device);
        let kept = p.clone();
        let g = Tensor::<Cpu, 1>::from_data(TensorData::from([0.5f32, 0.5, -0.5]), &device);
        let (p2, _) = SimpleOptimizer::<Cpu>::step(&AdamW::new(1e-8, 0.0), 0.1, p, g, None);
        assert_eq!(
            kept.into_data().to_vec::<f32>().unwrap(),
            vec![1.0, -2.0, 3.0]
        );
        let moved: Vec<f32> = p2.into_data().to_vec().unwrap();
        // First step: m̂/√v̂ = sign(g), so each entry moves by lr against its gradient.
        for (a, b) in moved.iter().zip([0.9f32, -2.1, 3.1]) {
            assert!((a - b).abs() < 1e-6, "{moved:?}");
        }
    }

    #[test]
    fn checkpoint_files_are_burns_adamw_files() {
        // The state is burn's record type, so an optimizer file written by burn's AdamW (the
        // checkpoints before this optimizer) loads here and the other way round.
        use burn::record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder};
        let rec = NamedMpkFileRecorder::<FullPrecisionSettings>::new();
        let dir = tempfile::tempdir().unwrap();
        let device = Default::default();
        let model = LinearConfig::new(4, 3).init::<CpuAutodiff>(&device);
        let grads = || {
            let x = Tensor::<CpuAutodiff, 2>::ones([2, 4], &device);
            GradientsParams::from_grads(model.forward(x).sum().backward(), &model)
        };
        let mut burns = AdamWConfig::new()
            .with_epsilon(1e-8)
            .init::<CpuAutodiff, Linear<CpuAutodiff>>();
        let _ = burns.step(1e-3, model.clone(), grads());
        Recorder::<CpuAutodiff>::record(&rec, burns.to_record(), dir.path().join("optim")).unwrap();
        let loaded =
            Recorder::<CpuAutodiff>::load(&rec, dir.path().join("optim"), &device).unwrap();
        let mut ours = AdamW::new(1e-8, 1e-4)
            .init::<CpuAutodiff, Linear<CpuAutodiff>>(None)
            .load_record(loaded);
        // Its next step is the second (time 2), the same as burn's own second step.
        let a = ours.step(1e-3, model.clone(), grads());
        let b = burns.step(1e-3, model.clone(), grads());
        assert_eq!(values(&a.weight), values(&b.weight));
        assert_eq!(model.num_params(), 15);
    }
}
