//! `impl<B: HicoBackend> HicoBackend for Autodiff<B, C>`: every op delegates to the inner
//! backend's `autodiff_*` method, whose default is the composed burn ops (burn-autodiff
//! tracks them). The flex backend overrides those methods with the nodes below: hico's
//! kernels as single ops of burn's autodiff graph (training on the CPU). Attention runs
//! [`hico_kernels::attention::attention_with_lse`] on the inner tensors and records one node
//! whose backward is [`hico_kernels::attention_grad`], in place of the ~30 tracked burn ops
//! (and their saved `L × L` intermediates) of the composed form. The rotary step records
//! one node whose backward is the same kernel turning the other way (the rotation's
//! transpose), in place of six tracked ops on strided views.
//!
//! The activations, RMSNorm and the linear layers' product are nodes of the same kind, each
//! with a one-pass (or, for the product, two-product) backward.
//!
//! This uses burn-autodiff's public op API (`Backward`, `OpsPrep`), as burn's own ops do.
//! The attention node saves `Q`, `K`, `V`, the output and one log-sum-exp per query row
//! (shared buffers, no copies).

use burn::backend::autodiff::checkpoint::{base::Checkpointer, strategy::CheckpointStrategy};
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, Flex};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;

use hico_kernels::adamw::AdamWStep;
use hico_kernels::attention::{Mask, attention_with_lse};
use hico_kernels::attention_grad::{Forward, attention_backward};
use hico_kernels::pool::Cells;

use crate::flex::{contiguous, mat, rope_flex, table, view};
use crate::{AdamWTensors, HicoBackend, composed};

impl<B: HicoBackend, C: CheckpointStrategy> HicoBackend for Autodiff<B, C> {
    fn softmax_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        mask: Mask,
        scale: f32,
        block: usize,
    ) -> Tensor<Self, 4> {
        B::autodiff_softmax_attention(q, k, v, mask, scale, block)
    }

    fn rope(x: Tensor<Self, 4>, cos: Tensor<Self, 4>, sin: Tensor<Self, 4>) -> Tensor<Self, 4> {
        B::autodiff_rope(x, cos, sin)
    }

    fn swiglu<const D: usize>(gate: Tensor<Self, D>, up: Tensor<Self, D>) -> Tensor<Self, D> {
        B::autodiff_swiglu(gate, up)
    }

    fn gelu_erf<const D: usize>(x: Tensor<Self, D>) -> Tensor<Self, D> {
        B::autodiff_gelu_erf(x)
    }

    fn rms_norm<const D: usize>(
        x: Tensor<Self, D>,
        gamma: Tensor<Self, 1>,
        eps: f64,
    ) -> Tensor<Self, D> {
        B::autodiff_rms_norm(x, gamma, eps)
    }

    fn matmul_bias(
        x: Tensor<Self, 2>,
        w: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, 2> {
        B::autodiff_matmul_bias(x, w, bias)
    }

    /// Composed (tracked) burn ops: the pooling kernel has no backward.
    fn cell_means(x: Tensor<Self, 3>, cells: Cells) -> Tensor<Self, 3> {
        composed::cell_means(x, cells)
    }

    /// Handed back: optimizers step on the inner backend's tensors, never on tracked ones.
    fn adamw<const D: usize>(
        _step: &AdamWStep,
        tensors: AdamWTensors<Self, D>,
    ) -> Result<(Tensor<Self, D>, Tensor<Self, D>, Tensor<Self, D>), AdamWTensors<Self, D>> {
        Err(tensors)
    }
}

/// The float primitive of `Autodiff<Flex, C>`: a flex tensor and its graph node.
type AdTensor<C> = FloatTensor<Autodiff<Flex, C>>;

/// The autodiff primitive under `t` when its values are `f32` (shared buffer, no copy);
/// `None` for a quantized tensor or another float dtype.
fn ad_of<C: CheckpointStrategy, const D: usize>(
    t: &Tensor<Autodiff<Flex, C>, D>,
) -> Option<AdTensor<C>> {
    match t.clone().into_primitive() {
        TensorPrimitive::Float(p) if p.primitive.dtype() == DType::F32 => Some(p),
        _ => None,
    }
}

/// A burn tensor holding `t`.
fn from_ad<C: CheckpointStrategy, const D: usize>(t: AdTensor<C>) -> Tensor<Autodiff<Flex, C>, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// The attention node's backward.
#[derive(Debug)]
struct AttentionBackward;

/// What the backward reads: the forward's inputs, output and log-sum-exp rows.
#[derive(Debug, Clone)]
struct Saved {
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    /// `[B, heads, Lq, d]` (stored `[B, Lq, heads, d]`).
    o: FlexTensor,
    /// `[B, heads, Lq]`, contiguous.
    lse: FlexTensor,
    mask: Mask,
    scale: f32,
}

impl Backward<Flex, 3> for AttentionBackward {
    type State = Saved;

    fn backward(self, ops: Ops<Saved, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let d_o: FlexTensor = grads.consume::<Flex>(&ops.node);
        let s = &ops.state;
        // The forward checked these views; the incoming gradient is f32 like the output.
        fn viewed<'a>(t: &'a FlexTensor, what: &str) -> hico_kernels::attention::View4<'a> {
            view(t).unwrap_or_else(|| panic!("attention backward: the {what} is not an f32 view"))
        }
        let lse = &s.lse.storage::<f32>()[s.lse.layout().start_offset()..];
        let q = viewed(&s.q, "query");
        let f = Forward {
            q,
            k: viewed(&s.k, "key"),
            v: viewed(&s.v, "value"),
            o: viewed(&s.o, "output"),
            lse,
            mask: s.mask,
            scale: s.scale,
        };
        let g = attention_backward(f, viewed(&d_o, "output gradient"));
        let (qs, ks) = (q.shape, f.k.shape);
        let [pq, pk, pv] = ops.parents;
        for (parent, grad, shape) in [(pq, g.dq, qs), (pk, g.dk, ks), (pv, g.dv, ks)] {
            if let Some(node) = parent {
                grads
                    .register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(grad, shape)));
            }
        }
    }
}

/// `softmax(scale · q kᵀ + mask) v` by the CPU kernel as one autodiff op, when the tensors
/// live on burn's autodiff over the flex backend in `f32`; `None` otherwise.
///
/// # Shapes
/// As [`crate::flex`].
pub(crate) fn softmax_attention<C: CheckpointStrategy>(
    q: &Tensor<Autodiff<Flex, C>, 4>,
    k: &Tensor<Autodiff<Flex, C>, 4>,
    v: &Tensor<Autodiff<Flex, C>, 4>,
    mask: Mask,
    scale: f32,
) -> Option<Tensor<Autodiff<Flex, C>, 4>> {
    let (aq, ak, av) = (ad_of(q)?, ad_of(k)?, ad_of(v)?);
    let (vq, vk, vv) = (
        view(&aq.primitive)?,
        view(&ak.primitive)?,
        view(&av.primitive)?,
    );
    let [b, heads, lq, d] = vq.shape;
    let (out, lse) = attention_with_lse(vq, vk, vv, mask, scale);
    let o = FlexTensor::from_data(TensorData::new(out, [b, lq, heads, d])).permute(&[0, 2, 1, 3]);
    let nodes = [aq.node.clone(), ak.node.clone(), av.node.clone()];
    let out = match AttentionBackward
        .prepare::<C>(nodes)
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let saved = Saved {
                q: aq.primitive.clone(),
                k: ak.primitive.clone(),
                v: av.primitive.clone(),
                o: o.clone(),
                lse: FlexTensor::from_data(TensorData::new(lse, [b, heads, lq])),
                mask,
                scale,
            };
            prep.finish(saved, o)
        }
        OpsKind::UnTracked(prep) => prep.finish(o),
    };
    Some(from_ad(out))
}

/// The rotary node's backward: `dx = Rᵀ dy`, the kernel with the sine table negated and its
/// halves swapped (`y_j = x_j c_j − x_{j+h} s_j`, `y_{j+h} = x_{j+h} c_{j+h} + x_j s_{j+h}`,
/// so `dx_j = dy_j c_j + dy_{j+h} s_{j+h}` and `dx_{j+h} = dy_{j+h} c_{j+h} − dy_j s_j`).
#[derive(Debug)]
struct RopeBackward;

/// The tables of a rotary node: `cos` and the transposed rotation's sine table.
#[derive(Debug, Clone)]
struct RopeTables {
    cos: FlexTensor,
    sin_t: FlexTensor,
}

impl Backward<Flex, 1> for RopeBackward {
    type State = RopeTables;

    fn backward(self, ops: Ops<RopeTables, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy: FlexTensor = grads.consume::<Flex>(&ops.node);
        let [parent] = ops.parents;
        if let Some(node) = parent {
            let dx = rope_flex(&dy, &ops.state.cos, &ops.state.sin_t)
                .expect("rope backward: the gradient is an f32 view with the forward's shape");
            grads.register::<Flex>(node.id, dx);
        }
    }
}

/// `x` rotated by `cos` / `sin` by the CPU kernel as one autodiff op, when the tensors live
/// on burn's autodiff over the flex backend in `f32`; `None` otherwise. The tables take no
/// gradient (they are functions of the positions).
///
/// # Shapes
/// As [`crate::flex`].
pub(crate) fn rope<C: CheckpointStrategy>(
    x: &Tensor<Autodiff<Flex, C>, 4>,
    cos: &Tensor<Autodiff<Flex, C>, 4>,
    sin: &Tensor<Autodiff<Flex, C>, 4>,
) -> Option<Tensor<Autodiff<Flex, C>, 4>> {
    let ax = ad_of(x)?;
    let (cos, sin) = (
        table(&ad_of(cos)?.primitive)?,
        table(&ad_of(sin)?.primitive)?,
    );
    let y = rope_flex(&ax.primitive, &cos, &sin)?;
    let out = match RopeBackward
        .prepare::<C>([ax.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let d = x.dims()[3];
            let half = d / 2;
            let s = sin.storage::<f32>();
            let n = sin.layout().num_elements();
            let sin_t: Vec<f32> = (0..n)
                .map(|i| {
                    let j = i % d;
                    let partner = if j < half { i + half } else { i - half };
                    -s[partner]
                })
                .collect();
            let tables = RopeTables {
                sin_t: FlexTensor::from_data(TensorData::new(sin_t, sin.layout().shape().clone())),
                cos,
            };
            prep.finish(tables, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(from_ad(out))
}

/// `t` stored contiguously (copied only when it is a strided or broadcast view): incoming
/// gradients may be views (a transpose's or an expand's backward).
fn dense(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The `f32` values of a contiguous flex tensor (any start offset).
fn values(t: &FlexTensor) -> &[f32] {
    contiguous(t).expect("autodiff kernels: an f32 tensor stored contiguously")
}

/// A flex tensor of `shape` holding `v`.
fn tensor(v: Vec<f32>, shape: &FlexTensor) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(v, shape.layout().shape().clone()))
}

/// SwiGLU's node backward: `(dg, du)` by [`hico_kernels::act::silu_mul_grad`].
#[derive(Debug)]
struct SiluMulBackward;

impl Backward<Flex, 2> for SiluMulBackward {
    /// The forward's `gate` and `up` (shared buffers).
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = dense(grads.consume::<Flex>(&ops.node));
        let (g, u) = &ops.state;
        let n = g.layout().num_elements();
        let (mut dg, mut du) = (vec![0.0f32; n], vec![0.0f32; n]);
        hico_kernels::act::silu_mul_grad(values(g), values(u), values(&dy), &mut dg, &mut du);
        let [pg, pu] = ops.parents;
        for (parent, grad) in [(pg, dg), (pu, du)] {
            if let Some(node) = parent {
                grads.register::<Flex>(node.id, tensor(grad, g));
            }
        }
    }
}

/// `silu(gate) · up` by the CPU kernels as one autodiff op, when both tensors live on burn's
/// autodiff over flex in `f32`, stored contiguously with one shape; `None` otherwise.
pub(crate) fn silu_mul<C: CheckpointStrategy, const D: usize>(
    gate: &Tensor<Autodiff<Flex, C>, D>,
    up: &Tensor<Autodiff<Flex, C>, D>,
) -> Option<Tensor<Autodiff<Flex, C>, D>> {
    let (ag, au) = (ad_of(gate)?, ad_of(up)?);
    if ag.primitive.layout().shape() != au.primitive.layout().shape() {
        return None;
    }
    let (g, u) = (contiguous(&ag.primitive)?, contiguous(&au.primitive)?);
    let mut out = vec![0.0f32; g.len()];
    hico_kernels::act::silu_mul(g, u, &mut out);
    let y = tensor(out, &ag.primitive);
    let out = match SiluMulBackward
        .prepare::<C>([ag.node.clone(), au.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((ag.primitive.clone(), au.primitive.clone()), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(from_ad(out))
}

/// GELU's node backward: `dx` by [`hico_kernels::act::gelu_grad`].
#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    /// The forward's input (shared buffer).
    type State = FlexTensor;

    fn backward(self, ops: Ops<FlexTensor, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = dense(grads.consume::<Flex>(&ops.node));
        let x = &ops.state;
        let mut dx = vec![0.0f32; x.layout().num_elements()];
        hico_kernels::act::gelu_grad(values(x), values(&dy), &mut dx);
        if let [Some(node)] = ops.parents {
            grads.register::<Flex>(node.id, tensor(dx, x));
        }
    }
}

/// The exact GELU by the CPU kernels as one autodiff op, when `x` lives on burn's autodiff
/// over flex in `f32`, stored contiguously; `None` otherwise.
pub(crate) fn gelu_erf<C: CheckpointStrategy, const D: usize>(
    x: &Tensor<Autodiff<Flex, C>, D>,
) -> Option<Tensor<Autodiff<Flex, C>, D>> {
    let ax = ad_of(x)?;
    let v = contiguous(&ax.primitive)?;
    let mut out = vec![0.0f32; v.len()];
    hico_kernels::act::gelu(v, &mut out);
    let y = tensor(out, &ax.primitive);
    let out = match GeluBackward
        .prepare::<C>([ax.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(ax.primitive.clone(), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(from_ad(out))
}

/// RMSNorm's node backward: `(dx, dγ)` by [`hico_kernels::norm::rms_norm_grad`].
#[derive(Debug)]
struct RmsNormBackward;

/// What RMSNorm's backward reads: the input, `γ` and the per-row `1 / rms`.
#[derive(Debug, Clone)]
struct RmsSaved {
    x: FlexTensor,
    gamma: FlexTensor,
    r: Vec<f32>,
}

impl Backward<Flex, 2> for RmsNormBackward {
    type State = RmsSaved;

    fn backward(self, ops: Ops<RmsSaved, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = dense(grads.consume::<Flex>(&ops.node));
        let s = &ops.state;
        let (dx, dgamma) =
            hico_kernels::norm::rms_norm_grad(values(&s.x), values(&s.gamma), &s.r, values(&dy));
        let [px, pg] = ops.parents;
        if let Some(node) = px {
            grads.register::<Flex>(node.id, tensor(dx, &s.x));
        }
        if let Some(node) = pg {
            grads.register::<Flex>(node.id, tensor(dgamma, &s.gamma));
        }
    }
}

/// `x · γ / √(mean(x²) + ε)` over the last dimension by the CPU kernels as one autodiff op,
/// when both tensors live on burn's autodiff over flex in `f32`, stored contiguously, `γ`
/// as wide as `x`'s rows; `None` otherwise.
pub(crate) fn rms_norm<C: CheckpointStrategy, const D: usize>(
    x: &Tensor<Autodiff<Flex, C>, D>,
    gamma: &Tensor<Autodiff<Flex, C>, 1>,
    eps: f32,
) -> Option<Tensor<Autodiff<Flex, C>, D>> {
    let (ax, ag) = (ad_of(x)?, ad_of(gamma)?);
    let (v, g) = (contiguous(&ax.primitive)?, contiguous(&ag.primitive)?);
    if g.is_empty() || x.dims()[D - 1] != g.len() {
        return None;
    }
    let mut out = vec![0.0f32; v.len()];
    let mut r = vec![0.0f32; v.len() / g.len()];
    hico_kernels::norm::rms_norm(v, g, eps, &mut out, &mut r);
    let y = tensor(out, &ax.primitive);
    let out = match RmsNormBackward
        .prepare::<C>([ax.node.clone(), ag.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let saved = RmsSaved {
                x: ax.primitive.clone(),
                gamma: ag.primitive.clone(),
                r,
            };
            prep.finish(saved, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(from_ad(out))
}

/// The product node's backward: `dx = dy · wᵀ`, `dw = xᵀ · dy`, each one product of
/// [`hico_kernels::linear::matmul`] on the saved views (nothing transposed by a copy).
#[derive(Debug)]
struct LinearBackward;

/// What the product's backward reads: its two operands (shared buffers).
#[derive(Debug, Clone)]
struct LinearSaved {
    x: FlexTensor,
    w: FlexTensor,
}

impl Backward<Flex, 2> for LinearBackward {
    type State = LinearSaved;

    fn backward(self, ops: Ops<LinearSaved, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let s = &ops.state;
        fn viewed<'a>(t: &'a FlexTensor, what: &str) -> hico_kernels::linear::Mat<'a> {
            mat(t).unwrap_or_else(|| panic!("linear backward: the {what} is not an f32 matrix"))
        }
        let (x, w, g) = (
            viewed(&s.x, "input"),
            viewed(&s.w, "weight"),
            viewed(&dy, "gradient"),
        );
        let [px, pw] = ops.parents;
        if let Some(node) = px {
            let dx = hico_kernels::linear::matmul(g, w.t(), None);
            let shape = x.shape;
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dx, shape)));
        }
        if let Some(node) = pw {
            let dw = hico_kernels::linear::matmul(x.t(), g, None);
            let shape = w.shape;
            grads.register::<Flex>(node.id, FlexTensor::from_data(TensorData::new(dw, shape)));
        }
    }
}

/// `x · w` by [`hico_kernels::linear::matmul`] as one autodiff op with its own backward, when both
/// tensors live on burn's autodiff over flex in `f32`; `None` otherwise.
///
/// # Shapes
/// - `x`: `[m, k]`, `w`: `[k, n]`; returns `[m, n]`
pub(crate) fn matmul<C: CheckpointStrategy>(
    x: &Tensor<Autodiff<Flex, C>, 2>,
    w: &Tensor<Autodiff<Flex, C>, 2>,
) -> Option<Tensor<Autodiff<Flex, C>, 2>> {
    let (ax, aw) = (ad_of(x)?, ad_of(w)?);
    let (a, b) = (mat(&ax.primitive)?, mat(&aw.primitive)?);
    if a.shape[1] != b.shape[0] {
        return None;
    }
    let shape = [a.shape[0], b.shape[1]];
    let y = FlexTensor::from_data(TensorData::new(
        hico_kernels::linear::matmul(a, b, None),
        shape,
    ));
    let out = match LinearBackward
        .prepare::<C>([ax.node.clone(), aw.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let saved = LinearSaved {
                x: ax.primitive.clone(),
                w: aw.primitive.clone(),
            };
            prep.finish(saved, y)
        }
        OpsKind::UnTracked(prep) => prep.finish(y),
    };
    Some(from_ad(out))
}
