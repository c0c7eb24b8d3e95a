//! One training step on `Autodiff<wgpu>` against `Autodiff<flex>`: the loss and the gradient
//! of every parameter, through a two-stage visual drop (uniform, then attention-ranked), on
//! the `gqa` fixture model (the same weights on both backends).

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::{Int, Tensor, TensorData};
use hico_core::config::AttentionImpl;
use hico_core::{DropPlan, DropStage, KeepRule, LanguageModel, PositionMode, PrefillInput};
use hico_llm::{CausalLm, ids_tensor};

use super::common::{close, cpu, gpu, model, values};

/// Loss (~5, a sum of 128-way log-softmaxes) against flex.
const TOL_LOSS: f32 = 1e-5;
/// Gradients against flex: f32 on both sides; the backward passes sum over rows and heads
/// in other orders (flex runs hico's attention backward kernel, wgpu burn-autodiff's
/// composed graph), so an entry carries the rounding of a few hundred additions.
const TOL_GRAD: f32 = 1e-4;

/// Collects every float parameter's gradient, in the module's visiting order.
struct Grads<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
    out: Vec<(String, Vec<f32>)>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Grads<'_, B> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        let g = p.val().grad(self.grads);
        let name = format!("param {} {:?}", self.out.len(), p.val().dims());
        self.out.push((name, g.map(values).unwrap_or_default()));
    }
}

/// Loss and gradients of one step: embeddings of a fixed sample (3 text tokens, 24 visual
/// rows, 2 text tokens), drops after layers 1 and 2, next-token targets on the text after
/// the video.
fn step<B: hico_backend::HicoAutodiff>(device: &B::Device) -> (f32, Vec<(String, Vec<f32>)>) {
    let m: CausalLm<B> = model("gqa", AttentionImpl::Own, device);
    let vis: Vec<f32> = (0..24 * 32)
        .map(|i| ((i * 37 % 101) as f32 / 101.0 - 0.5) * 0.8)
        .collect();
    let visual = Tensor::<B, 3>::from_data(TensorData::new(vis, [1, 24, 32]), device);
    let embeds = Tensor::cat(
        vec![
            m.embed(ids_tensor(&[1, 5, 9], device)),
            visual,
            m.embed(ids_tensor(&[77, 3, 41], device)),
        ],
        1,
    );
    let stage = |after_layer, keep, rule| DropStage {
        after_layer,
        keep,
        rule,
    };
    let input = PrefillInput {
        embeds,
        visual_start: 3,
        visual_len: 24,
        plan: DropPlan {
            stages: vec![
                stage(1, 12, KeepRule::Uniform),
                stage(2, 4, KeepRule::Attention),
            ],
            positions: PositionMode::Renumber,
            fusion: None,
        },
        queries: vec![29],
        capture_layers: vec![],
        frames: None,
        kv_cache: Default::default(),
    };
    let logits = m.forward_train(input, &[27, 28]).unwrap().logits; // predicts 3, 41
    let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(vec![3i64, 41], [2]), device);
    let loss = CrossEntropyLossConfig::new()
        .init(device)
        .forward(logits, targets);
    let loss_value = values(loss.clone())[0];
    let grads = loss.backward();
    let mut v = Grads::<B> {
        grads: &grads,
        out: Vec::new(),
    };
    m.visit(&mut v);
    (loss_value, v.out)
}

#[test]
fn one_training_step_matches_flex() {
    let (loss_g, grads_g) = step::<burn::backend::Autodiff<super::common::Gpu>>(&gpu());
    let (loss_c, grads_c) = step::<burn::backend::Autodiff<super::common::Cpu>>(&cpu());
    close("train loss vs flex", &[loss_g], &[loss_c], TOL_LOSS);
    assert_eq!(grads_g.len(), grads_c.len(), "parameter count");
    let mut nonzero = 0;
    let mut worst = 0f32;
    for ((name, g), (_, c)) in grads_g.iter().zip(&grads_c) {
        assert_eq!(
            g.len(),
            c.len(),
            "{name}: gradient present on one backend only"
        );
        nonzero += usize::from(c.iter().any(|x| *x != 0.0));
        let d = super::common::max_diff(g, c);
        assert!(
            d <= TOL_GRAD && g.iter().all(|x| x.is_finite()),
            "train {name}: max |diff| {d:e}"
        );
        worst = worst.max(d);
    }
    println!(
        "wgpu-parity train gradients of {} parameters vs flex: max |diff| {worst:.3e} (tolerance {TOL_GRAD:.0e})",
        grads_c.len()
    );
    assert!(
        nonzero >= grads_c.len() / 2,
        "only {nonzero} nonzero gradients: the step trains nothing"
    );
}
