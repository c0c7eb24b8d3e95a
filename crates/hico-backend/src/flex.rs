//! `impl HicoBackend for Flex`: hico's CPU kernels ([`hico_kernels`]) for burn's plain `flex`
//! backend. Each op reads the tensors' buffers in place through their strides and runs the
//! kernel when the tensors are `f32` with a layout the kernel reads; otherwise (another
//! dtype, a quantized tensor, a negative stride, a shape the kernel does not take) it runs
//! the composed burn ops of [`crate::composed`], and each function below says which inputs
//! those are.

use burn::backend::Autodiff;
use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive};
use burn_flex::FlexTensor;

use hico_kernels::adamw::AdamWStep;
use hico_kernels::attention::{Mask, View4, attention as attention_kernel};
use hico_kernels::pool::{Cells, View3, cell_means as cell_means_kernel};

use crate::{AdamWTensors, HicoBackend, autodiff, composed};

impl HicoBackend for Flex {
    fn softmax_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        mask: Mask,
        scale: f32,
        block: usize,
    ) -> Tensor<Self, 4> {
        softmax_attention(&q, &k, &v, mask, scale)
            .unwrap_or_else(|| composed::attention(q, k, v, mask, scale, block))
    }

    fn rope(x: Tensor<Self, 4>, cos: Tensor<Self, 4>, sin: Tensor<Self, 4>) -> Tensor<Self, 4> {
        rope(&x, &cos, &sin).unwrap_or_else(|| composed::rope(x, cos, sin))
    }

    fn swiglu<const D: usize>(gate: Tensor<Self, D>, up: Tensor<Self, D>) -> Tensor<Self, D> {
        silu_mul(&gate, &up).unwrap_or_else(|| composed::swiglu(gate, up))
    }

    fn gelu_erf<const D: usize>(x: Tensor<Self, D>) -> Tensor<Self, D> {
        gelu_erf(&x).unwrap_or_else(|| composed::gelu(x))
    }

    fn rms_norm<const D: usize>(
        x: Tensor<Self, D>,
        gamma: Tensor<Self, 1>,
        eps: f64,
    ) -> Tensor<Self, D> {
        rms_norm(&x, &gamma, eps as f32).unwrap_or_else(|| composed::rms_norm(x, gamma, eps))
    }

    fn matmul_bias(
        x: Tensor<Self, 2>,
        w: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, 2> {
        few_rows_matmul(&x, &w, bias.as_ref())
            .or_else(|| matmul_bias(&x, &w, bias.as_ref()))
            .unwrap_or_else(|| composed::linear(x, w, bias))
    }

    /// A few rows (a decode step): one streaming pass of dot products along `w`'s rows;
    /// more rows: burn's product of the stored layout.
    fn matmul_wt(x: Tensor<Self, 2>, w: Tensor<Self, 2>) -> Tensor<Self, 2> {
        few_rows_matmul(&x, &w.clone().transpose(), None)
            .unwrap_or_else(|| composed::matmul_wt(x, w))
    }

    fn cell_means(x: Tensor<Self, 3>, cells: Cells) -> Tensor<Self, 3> {
        cell_means(&x, cells).unwrap_or_else(|| composed::cell_means(x, cells))
    }

    fn adamw<const D: usize>(
        step: &AdamWStep,
        tensors: AdamWTensors<Self, D>,
    ) -> Result<(Tensor<Self, D>, Tensor<Self, D>, Tensor<Self, D>), AdamWTensors<Self, D>> {
        adamw(step, tensors)
    }

    fn autodiff_softmax_attention<C: CheckpointStrategy>(
        q: Tensor<Autodiff<Self, C>, 4>,
        k: Tensor<Autodiff<Self, C>, 4>,
        v: Tensor<Autodiff<Self, C>, 4>,
        mask: Mask,
        scale: f32,
        block: usize,
    ) -> Tensor<Autodiff<Self, C>, 4> {
        autodiff::softmax_attention(&q, &k, &v, mask, scale)
            .unwrap_or_else(|| composed::attention(q, k, v, mask, scale, block))
    }

    fn autodiff_rope<C: CheckpointStrategy>(
        x: Tensor<Autodiff<Self, C>, 4>,
        cos: Tensor<Autodiff<Self, C>, 4>,
        sin: Tensor<Autodiff<Self, C>, 4>,
    ) -> Tensor<Autodiff<Self, C>, 4> {
        autodiff::rope(&x, &cos, &sin).unwrap_or_else(|| composed::rope(x, cos, sin))
    }

    fn autodiff_swiglu<C: CheckpointStrategy, const D: usize>(
        gate: Tensor<Autodiff<Self, C>, D>,
        up: Tensor<Autodiff<Self, C>, D>,
    ) -> Tensor<Autodiff<Self, C>, D> {
        autodiff::silu_mul(&gate, &up).unwrap_or_else(|| composed::swiglu(gate, up))
    }

    fn autodiff_gelu_erf<C: CheckpointStrategy, const D: usize>(
        x: Tensor<Autodiff<Self, C>, D>,
    ) -> Tensor<Autodiff<Self, C>, D> {
        autodiff::gelu_erf(&x).unwrap_or_else(|| composed::gelu(x))
    }

    fn autodiff_rms_norm<C: CheckpointStrategy, const D: usize>(
        x: Tensor<Autodiff<Self, C>, D>,
        gamma: Tensor<Autodiff<Self, C>, 1>,
        eps: f64,
    ) -> Tensor<Autodiff<Self, C>, D> {
        autodiff::rms_norm(&x, &gamma, eps as f32)
            .unwrap_or_else(|| composed::rms_norm(x, gamma, eps))
    }

    fn autodiff_matmul_bias<C: CheckpointStrategy>(
        x: Tensor<Autodiff<Self, C>, 2>,
        w: Tensor<Autodiff<Self, C>, 2>,
        bias: Option<Tensor<Autodiff<Self, C>, 1>>,
    ) -> Tensor<Autodiff<Self, C>, 2> {
        match autodiff::matmul(&x, &w) {
            Some(y) => match bias {
                Some(b) => y + b.unsqueeze_dim(0),
                None => y,
            },
            None => composed::linear(x, w, bias),
        }
    }
}

/// The `f32` flex tensor under `t` (shared buffer, no copy); `None` for a quantized tensor
/// or another float dtype.
pub(crate) fn flex_of<const D: usize>(t: &Tensor<Flex, D>) -> Option<FlexTensor> {
    match t.clone().into_primitive() {
        TensorPrimitive::Float(p) if p.dtype() == DType::F32 => Some(p),
        _ => None,
    }
}

/// A burn tensor holding `t`.
pub(crate) fn from_flex<const D: usize>(t: FlexTensor) -> Tensor<Flex, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

/// Buffer, start, shape and strides of an `f32` flex tensor of rank `D`, when its strides
/// are all non-negative.
#[allow(clippy::type_complexity)]
fn parts<const D: usize>(t: &FlexTensor) -> Option<(&[f32], usize, [usize; D], [usize; D])> {
    if t.dtype() != DType::F32 {
        return None;
    }
    let layout = t.layout();
    let shape: [usize; D] = layout.shape().as_slice().try_into().ok()?;
    let mut strides = [0usize; D];
    for (s, &x) in strides.iter_mut().zip(layout.strides()) {
        *s = usize::try_from(x).ok()?;
    }
    Some((t.storage::<f32>(), layout.start_offset(), shape, strides))
}

/// A strided view of a rank-4 `f32` flex tensor.
pub(crate) fn view(t: &FlexTensor) -> Option<View4<'_>> {
    let (data, offset, shape, strides) = parts::<4>(t)?;
    Some(View4 {
        data,
        offset,
        shape,
        strides,
    })
}

/// `softmax(scale · q kᵀ + mask) v` by hico's CPU kernel ([`hico_kernels::attention`]) when the
/// tensors live on the plain flex backend in `f32`; `None` otherwise (the caller composes
/// burn ops instead).
///
/// # Shapes
/// - `q`: `[B, heads, Lq, d]`, `k`, `v`: `[B, kv_heads, Lk, d]` (grouped-query heads are read
///   in place, as [`hico_kernels::attention::attention`])
/// - returns `[B, heads, Lq, d]`, stored as `[B, Lq, heads, d]` so that swapping dimensions 1
///   and 2 and merging the heads copies nothing
pub(crate) fn softmax_attention(
    q: &Tensor<Flex, 4>,
    k: &Tensor<Flex, 4>,
    v: &Tensor<Flex, 4>,
    mask: Mask,
    scale: f32,
) -> Option<Tensor<Flex, 4>> {
    let (fq, fk, fv) = (flex_of(q)?, flex_of(k)?, flex_of(v)?);
    let (vq, vk, vv) = (view(&fq)?, view(&fk)?, view(&fv)?);
    let [b, heads, lq, d] = vq.shape;
    let out = attention_kernel(vq, vk, vv, mask, scale);
    let out = FlexTensor::from_data(TensorData::new(out, [b, lq, heads, d])).permute(&[0, 2, 1, 3]);
    Some(from_flex(out))
}

/// `x` rotated by `cos` / `sin` ([`hico_kernels::rope::rope`]) when the tensors live on the plain
/// flex backend in `f32`; `None` otherwise.
///
/// # Shapes
/// - `x`: `[B, H, L, d]`, `cos`, `sin`: `[1, 1, L, d]`; returns `[B, H, L, d]`, stored as
///   `[B, L, H, d]` (the projection's layout)
pub(crate) fn rope(
    x: &Tensor<Flex, 4>,
    cos: &Tensor<Flex, 4>,
    sin: &Tensor<Flex, 4>,
) -> Option<Tensor<Flex, 4>> {
    let fx = flex_of(x)?;
    Some(from_flex(rope_flex(&fx, &flex_of(cos)?, &flex_of(sin)?)?))
}

/// A rotary table as `f32` values stored contiguously from the buffer's start.
pub(crate) fn table(t: &FlexTensor) -> Option<FlexTensor> {
    let f = if t.is_contiguous() && t.layout().start_offset() == 0 {
        t.clone()
    } else {
        t.to_contiguous()
    };
    (f.dtype() == DType::F32).then_some(f)
}

/// [`rope`] on flex tensors: `x` `[B, H, L, d]` rotated by `cos`, `sin` (`L·d` values each);
/// the result is stored `[B, L, H, d]`.
pub(crate) fn rope_flex(x: &FlexTensor, cos: &FlexTensor, sin: &FlexTensor) -> Option<FlexTensor> {
    let vx = view(x)?;
    let (fc, fs) = (table(cos)?, table(sin)?);
    let [b, h, l, d] = vx.shape;
    let n = l * d;
    if fc.layout().num_elements() != n || fs.layout().num_elements() != n {
        return None;
    }
    let out = hico_kernels::rope::rope(vx, &fc.storage::<f32>()[..n], &fs.storage::<f32>()[..n]);
    Some(FlexTensor::from_data(TensorData::new(out, [b, l, h, d])).permute(&[0, 2, 1, 3]))
}

/// The mean feature of every cell of a patch grid ([`hico_kernels::pool::cell_means`]) when the
/// tensor lives on the plain flex backend in `f32`; `None` otherwise.
///
/// # Shapes
/// - `x`: `[clips, frames·h·w, D]`; returns `[clips, frames·sh·sw, D]`
pub(crate) fn cell_means(x: &Tensor<Flex, 3>, cells: Cells) -> Option<Tensor<Flex, 3>> {
    let fx = flex_of(x)?;
    let (data, offset, shape, strides) = parts::<3>(&fx)?;
    let [c, _, d] = shape;
    let view = View3 {
        data,
        offset,
        shape,
        strides,
    };
    let out = cell_means_kernel(view, cells);
    let rows = cells.frames * cells.sh * cells.sw;
    Some(from_flex(FlexTensor::from_data(TensorData::new(
        out,
        [c, rows, d],
    ))))
}

/// The `f32` elements of a flex tensor stored contiguously (any start offset), without a copy.
/// Dimensions of size 1 may have any stride: a block of rows sliced out of `[1, L, D]` is
/// contiguous here, though burn-flex's own check (which wants every stride canonical) says
/// it is not.
pub(crate) fn contiguous(t: &FlexTensor) -> Option<&[f32]> {
    let layout = t.layout();
    let mut expected = 1isize;
    for (&n, &s) in layout.shape().iter().zip(layout.strides()).rev() {
        if n != 1 && s != expected {
            return None;
        }
        expected *= n as isize;
    }
    if t.dtype() != DType::F32 {
        return None;
    }
    let (start, n) = (t.layout().start_offset(), t.layout().num_elements());
    t.storage::<f32>().get(start..start + n)
}

/// `silu(gate) · up` ([`hico_kernels::act::silu_mul`]) when both tensors live on the plain flex
/// backend in `f32`, stored contiguously with the same shape; `None` otherwise.
pub(crate) fn silu_mul<const D: usize>(
    gate: &Tensor<Flex, D>,
    up: &Tensor<Flex, D>,
) -> Option<Tensor<Flex, D>> {
    let (fg, fu) = (flex_of(gate)?, flex_of(up)?);
    if fg.layout().shape() != fu.layout().shape() {
        return None;
    }
    let (g, u) = (contiguous(&fg)?, contiguous(&fu)?);
    let mut out = vec![0.0f32; g.len()];
    hico_kernels::act::silu_mul(g, u, &mut out);
    Some(from_flex(FlexTensor::from_data(TensorData::new(
        out,
        gate.dims(),
    ))))
}

/// `gelu(x)` (erf form, [`hico_kernels::act::gelu`]) when `x` lives on the plain flex backend in
/// `f32`, stored contiguously; `None` otherwise.
pub(crate) fn gelu_erf<const D: usize>(x: &Tensor<Flex, D>) -> Option<Tensor<Flex, D>> {
    let fx = flex_of(x)?;
    let v = contiguous(&fx)?;
    let mut out = vec![0.0f32; v.len()];
    hico_kernels::act::gelu(v, &mut out);
    Some(from_flex(FlexTensor::from_data(TensorData::new(
        out,
        x.dims(),
    ))))
}

/// `x · γ / √(mean(x²) + ε)` over the last dimension ([`hico_kernels::norm::rms_norm`]) when both
/// tensors live on the plain flex backend in `f32`, stored contiguously, `γ` as wide as `x`'s
/// rows; `None` otherwise. Under burn's autodiff on flex it is one tracked op with its own
/// backward (`autodiff.rs`).
pub(crate) fn rms_norm<const D: usize>(
    x: &Tensor<Flex, D>,
    gamma: &Tensor<Flex, 1>,
    eps: f32,
) -> Option<Tensor<Flex, D>> {
    let (fx, fg) = (flex_of(x)?, flex_of(gamma)?);
    let (v, g) = (contiguous(&fx)?, contiguous(&fg)?);
    if g.is_empty() || x.dims()[D - 1] != g.len() {
        return None;
    }
    let mut out = vec![0.0f32; v.len()];
    let mut r = vec![0.0f32; v.len() / g.len()];
    hico_kernels::norm::rms_norm(v, g, eps, &mut out, &mut r);
    Some(from_flex(FlexTensor::from_data(TensorData::new(
        out,
        x.dims(),
    ))))
}

/// `x · w (+ bias)` by [`hico_kernels::gemv`] when `x` has at most [`hico_kernels::gemv::MAX_ROWS`] rows and
/// the tensors live on the plain flex backend in `f32`, `w` stored `[k, n]` or as the
/// transpose of a stored `[n, k]` (a transposed view); `None` otherwise (a matrix product).
///
/// # Shapes
/// - `x`: `[m, k]`, `w`: `[k, n]`, `bias`: `[n]`; returns `[m, n]`
pub(crate) fn few_rows_matmul(
    x: &Tensor<Flex, 2>,
    w: &Tensor<Flex, 2>,
    bias: Option<&Tensor<Flex, 1>>,
) -> Option<Tensor<Flex, 2>> {
    use hico_kernels::gemv::{MAX_ROWS, Weights, gemv};
    let [m, k] = x.dims();
    let [k2, n] = w.dims();
    if !(1..=MAX_ROWS).contains(&m) || k != k2 || k == 0 || n == 0 {
        return None;
    }
    let (fx, fw) = (flex_of(x)?, flex_of(w)?);
    // Copied only when hico's contiguity rule (size-1 dimensions ignored) refuses it.
    let fx = if contiguous(&fx).is_some() {
        fx
    } else {
        fx.to_contiguous()
    };
    let xs = contiguous(&fx)?;
    let (data, offset, _, [s0, s1]) = parts::<2>(&fw)?;
    let stored = data.get(offset..offset + k * n)?;
    let weights = if s1 == 1 && s0 == n {
        Weights::Rows(stored)
    } else if s0 == 1 && s1 == k {
        Weights::Columns(stored)
    } else {
        return None;
    };
    let mut y = gemv(xs, weights, (m, k, n));
    if let Some(b) = bias {
        let fb = flex_of(b)?;
        let bv = contiguous(&fb)?;
        if bv.len() != n {
            return None;
        }
        for row in y.chunks_exact_mut(n) {
            row.iter_mut().zip(bv).for_each(|(o, b)| *o += b);
        }
    }
    Some(from_flex(FlexTensor::from_data(TensorData::new(y, [m, n]))))
}

/// `x · w (+ bias)` by [`hico_kernels::linear::matmul`] (one product into a buffer written once)
/// when the tensors live on the plain flex backend in `f32`; under burn's autodiff on flex
/// the product is one tracked op with its own backward (two more such products) and the
/// bias a tracked addition; `None` otherwise.
///
/// # Shapes
/// - `x`: `[m, k]`, `w`: `[k, n]`, `bias`: `[n]`; returns `[m, n]`
pub(crate) fn matmul_bias(
    x: &Tensor<Flex, 2>,
    w: &Tensor<Flex, 2>,
    bias: Option<&Tensor<Flex, 1>>,
) -> Option<Tensor<Flex, 2>> {
    let (fx, fw) = (flex_of(x)?, flex_of(w)?);
    let fb = match bias {
        Some(b) => Some(flex_of(b)?),
        None => None,
    };
    let bias = match &fb {
        Some(b) => Some(contiguous(b)?),
        None => None,
    };
    let (a, b) = (mat(&fx)?, mat(&fw)?);
    if a.shape[1] != b.shape[0] || bias.is_some_and(|v| v.len() != b.shape[1]) {
        return None;
    }
    let shape = [a.shape[0], b.shape[1]];
    let y = hico_kernels::linear::matmul(a, b, bias);
    Some(from_flex(FlexTensor::from_data(TensorData::new(y, shape))))
}

/// A strided view of a rank-2 `f32` flex tensor.
pub(crate) fn mat(t: &FlexTensor) -> Option<hico_kernels::linear::Mat<'_>> {
    let (data, offset, shape, strides) = parts::<2>(t)?;
    Some(hico_kernels::linear::Mat {
        data,
        offset,
        shape,
        strides,
    })
}

/// The `f32` flex tensor of `t`, taken by value (no second owner of its buffer).
#[allow(clippy::result_large_err)] // the tensor handed back, as the caller passed it
fn into_flex<const D: usize>(t: Tensor<Flex, D>) -> Result<FlexTensor, Tensor<Flex, D>> {
    if flex_of(&t).is_none() {
        return Err(t);
    }
    match t.into_primitive() {
        TensorPrimitive::Float(p) => Ok(p),
        TensorPrimitive::QFloat(_) => unreachable!("flex_of read a float tensor"),
    }
}

/// `t` as a contiguous tensor at offset 0 that owns its buffer alone (copied only when it
/// is a view or shared).
fn writable(t: FlexTensor) -> FlexTensor {
    let n = t.layout().num_elements();
    if t.is_contiguous()
        && t.layout().start_offset() == 0
        && t.storage::<f32>().len() == n
        && t.is_unique()
    {
        t
    } else {
        FlexTensor::from_data(t.into_data())
    }
}

/// One AdamW step ([`hico_kernels::adamw`]) in one pass, in place where the buffers are not shared:
/// the new parameter and moments, when all the tensors live on the plain flex backend in
/// `f32` with one shape; otherwise the inputs back, untouched, for the composed step.
#[allow(clippy::type_complexity, clippy::result_large_err)]
pub(crate) fn adamw<const D: usize>(
    step: &AdamWStep,
    (param, grad, moments): AdamWTensors<Flex, D>,
) -> Result<(Tensor<Flex, D>, Tensor<Flex, D>, Tensor<Flex, D>), AdamWTensors<Flex, D>> {
    let dims = param.dims();
    let fits = |t: &Tensor<Flex, D>| t.dims() == dims && flex_of(t).is_some();
    let all =
        fits(&param) && fits(&grad) && moments.as_ref().is_none_or(|(m, v)| fits(m) && fits(v));
    if !all {
        return Err((param, grad, moments));
    }
    let flex = |t| into_flex(t).expect("checked above");
    let mut p = writable(flex(param));
    let g = flex(grad);
    let g = if contiguous(&g).is_some() {
        g
    } else {
        FlexTensor::from_data(g.into_data())
    };
    let (mut m, mut v) = match moments {
        Some((m, v)) => (writable(flex(m)), writable(flex(v))),
        None => {
            let zeros = || FlexTensor::from_data(TensorData::zeros::<f32, _>(dims));
            (zeros(), zeros())
        }
    };
    hico_kernels::adamw::adamw_step(
        step,
        p.storage_mut::<f32>(),
        contiguous(&g).expect("made contiguous above"),
        m.storage_mut::<f32>(),
        v.storage_mut::<f32>(),
    );
    let back = from_flex::<D>;
    Ok((back(p), back(m), back(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cpu, CpuAutodiff};
    use burn::tensor::backend::Backend;
    use burn::tensor::{Distribution, Tolerance, activation::softmax};

    #[test]
    fn a_block_of_rows_is_contiguous_and_a_column_block_is_not() {
        let dev = Default::default();
        let x = Tensor::<Cpu, 3>::random([1, 10, 8], Distribution::Default, &dev);
        let gamma = Tensor::<Cpu, 1>::random([8], Distribution::Default, &dev);
        let rows = x.clone().slice([0..1, 2..6]);
        let got = rms_norm(&rows, &gamma, 1e-6).expect("a row block takes the kernel");
        let norm = burn::nn::RmsNormConfig::new(8)
            .with_epsilon(1e-6)
            .init::<Cpu>(&dev);
        let norm = burn::nn::RmsNorm {
            gamma: burn::module::Param::from_tensor(gamma.clone()),
            ..norm
        };
        got.into_data()
            .assert_approx_eq::<f32>(&norm.forward(rows).into_data(), Tolerance::absolute(1e-5));
        assert!(rms_norm(&x.slice([0..1, 0..10, 0..4]), &gamma.slice(0..4), 1e-6).is_none());
    }

    /// Causal grouped-query attention composed of burn ops (full score matrix).
    fn composed<B: Backend>(
        q: Tensor<B, 4>,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
        scale: f32,
    ) -> Tensor<B, 4> {
        let [_, heads, l, _] = q.dims();
        let g = heads / k.dims()[1];
        let rep = |x: Tensor<B, 4>| {
            let [b, h, l, d] = x.dims();
            x.unsqueeze_dim::<5>(2)
                .expand([b, h, g, l, d])
                .reshape([b, h * g, l, d])
        };
        let dev = q.device();
        let mask = Tensor::<B, 2, burn::tensor::Bool>::tril_mask([l, l], 0, &dev)
            .unsqueeze::<4>()
            .expand([1, heads, l, l]);
        let s = q
            .matmul(rep(k).swap_dims(2, 3))
            .mul_scalar(scale)
            .mask_fill(mask, -1e30);
        softmax(s, 3).matmul(rep(v))
    }

    #[test]
    fn autodiff_rope_gradient_equals_the_composed_ops() {
        let dev = Default::default();
        let (h, l, d) = (3, 11, 8);
        let rand =
            |dims: [usize; 4]| Tensor::<Cpu, 4>::random(dims, Distribution::Normal(0.0, 1.0), &dev);
        // Tables whose halves differ, so that the swap in the backward is exercised.
        let (cos, sin) = (rand([1, 1, l, d]), rand([1, 1, l, d]));
        let (x0, w) = (rand([1, l, h, d]), rand([1, h, l, d]));
        let run = |kernel: bool| {
            let x = Tensor::<CpuAutodiff, 4>::from_inner(x0.clone()).require_grad();
            let xv = x.clone().swap_dims(1, 2);
            let (c, s) = (
                Tensor::from_inner(cos.clone()),
                Tensor::from_inner(sin.clone()),
            );
            let y = if kernel {
                crate::autodiff::rope(&xv, &c, &s).expect("autodiff over flex takes the kernel")
            } else {
                let x1 = xv.clone().slice([0..1, 0..h, 0..l, 0..d / 2]);
                let x2 = xv.clone().slice([0..1, 0..h, 0..l, d / 2..d]);
                xv * c + Tensor::cat(vec![x2.neg(), x1], 3) * s
            };
            let grads = (y.clone() * Tensor::from_inner(w.clone())).sum().backward();
            (
                y.inner().into_data(),
                x.grad(&grads).expect("gradient").into_data(),
            )
        };
        let (got, want) = (run(true), run(false));
        got.0
            .assert_approx_eq::<f32>(&want.0, Tolerance::absolute(1e-5));
        got.1
            .assert_approx_eq::<f32>(&want.1, Tolerance::absolute(1e-5));
    }

    #[test]
    fn linear_and_its_gradients_equal_burns_matmul() {
        let dev = Default::default();
        let (m, k, n) = (37, 50, 29);
        let r = |s: [usize; 2]| Tensor::<Cpu, 2>::random(s, Distribution::Normal(0.0, 1.0), &dev);
        // The weight stored [n, k] and read transposed, as a loaded checkpoint's may be.
        let (x0, wt0, b0, dy) = (r([m, k]), r([n, k]), r([1, n]), r([m, n]));
        let run = |kernel: bool| {
            let x = Tensor::<CpuAutodiff, 2>::from_inner(x0.clone()).require_grad();
            let wt = Tensor::<CpuAutodiff, 2>::from_inner(wt0.clone()).require_grad();
            let b = Tensor::<CpuAutodiff, 2>::from_inner(b0.clone()).require_grad();
            let (w, bias) = (wt.clone().transpose(), b.clone().reshape([n]));
            let y = if kernel {
                crate::autodiff::matmul(&x, &w).expect("autodiff over flex takes the kernel")
                    + bias.unsqueeze_dim(0)
            } else {
                x.clone().matmul(w) + b.clone()
            };
            let grads = (y.clone() * Tensor::from_inner(dy.clone()))
                .sum()
                .backward();
            let grad = |t: &Tensor<CpuAutodiff, 2>| t.grad(&grads).expect("gradient").into_data();
            (y.inner().into_data(), grad(&x), grad(&wt), grad(&b))
        };
        let (got, want) = (run(true), run(false));
        let tol = Tolerance::absolute(1e-4);
        got.0.assert_approx_eq::<f32>(&want.0, tol);
        got.1.assert_approx_eq::<f32>(&want.1, tol);
        got.2.assert_approx_eq::<f32>(&want.2, tol);
        got.3.assert_approx_eq::<f32>(&want.3, tol);
        // Inference: the plain flex backend, no bias.
        let w = wt0.clone().transpose();
        let y = matmul_bias(&x0, &w, None).expect("flex takes the kernel");
        y.into_data()
            .assert_approx_eq::<f32>(&x0.matmul(w).into_data(), tol);
    }

    #[test]
    fn autodiff_kernel_gradients_equal_the_composed_ops() {
        let dev = Default::default();
        let (kv, g, l, d) = (2, 3, 70, 8);
        let scale = 1.0 / (d as f32).sqrt();
        // q stored [1, L, H, d] and viewed [1, H, L, d] as the decoder's projections are.
        let r = |h| Tensor::<Cpu, 4>::random([1, l, h, d], Distribution::Normal(0.0, 1.0), &dev);
        let (q0, k0, v0) = (r(kv * g), r(kv), r(kv));
        let w = Tensor::<Cpu, 4>::random([1, kv * g, l, d], Distribution::Normal(0.0, 1.0), &dev);
        let run = |kernel: bool| {
            let lift =
                |t: &Tensor<Cpu, 4>| Tensor::<CpuAutodiff, 4>::from_inner(t.clone()).require_grad();
            let (q, k, v) = (lift(&q0), lift(&k0), lift(&v0));
            let (qv, kv_, vv) = (
                q.clone().swap_dims(1, 2),
                k.clone().swap_dims(1, 2),
                v.clone().swap_dims(1, 2),
            );
            let o = if kernel {
                crate::autodiff::softmax_attention(
                    &qv,
                    &kv_,
                    &vv,
                    Mask::Causal { offset: 0 },
                    scale,
                )
                .expect("autodiff over flex takes the kernel")
            } else {
                composed(qv, kv_, vv, scale)
            };
            let grads = (o.clone() * Tensor::from_inner(w.clone())).sum().backward();
            let grad = |t: &Tensor<CpuAutodiff, 4>| t.grad(&grads).expect("gradient").into_data();
            (o.inner().into_data(), grad(&q), grad(&k), grad(&v))
        };
        let (got, want) = (run(true), run(false));
        let tol = Tolerance::absolute(2e-5);
        got.0.assert_approx_eq::<f32>(&want.0, tol);
        got.1.assert_approx_eq::<f32>(&want.1, tol);
        got.2.assert_approx_eq::<f32>(&want.2, tol);
        got.3.assert_approx_eq::<f32>(&want.3, tol);
    }

    #[test]
    fn kernel_through_burn_equals_composed_ops_on_permuted_inputs() {
        let dev = Default::default();
        let (h, l, d) = (3, 50, 8);
        // Stored [1, L, H, d], viewed [1, H, L, d] as the decoder's projections are.
        let r = || {
            Tensor::<Cpu, 4>::random([1, l, h, d], Distribution::Normal(0.0, 1.0), &dev)
                .swap_dims(1, 2)
        };
        let (q, k, v) = (r(), r(), r());
        let scale = 1.0 / (d as f32).sqrt();
        let got = softmax_attention(&q, &k, &v, Mask::None, scale).expect("flex takes the kernel");
        let want = softmax(q.matmul(k.swap_dims(2, 3)).mul_scalar(scale), 3).matmul(v);
        assert_eq!(got.dims(), [1, h, l, d]);
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-5));
    }
}
