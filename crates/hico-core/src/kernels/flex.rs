//! hico's CPU kernels reached from generic model code: a call site written over
//! `B: Backend` asks [`attention`] first and falls back to composed burn ops when it
//! answers `None`.
//!
//! This is burn's backend-extension idea (a backend-specific kernel behind a backend-generic
//! call) without a new trait bound on every generic: the tensor's primitive is checked by
//! type at run time. It is burn's `flex` backend's `FlexTensor` only for the plain (not
//! autodiff) `flex` backend in `f32`, so inference on the CPU takes the kernel, while
//! training (whose primitive is an autodiff tensor, which needs the composed ops'
//! backward) and the GPU backends keep their own paths. Nothing is copied on the way in:
//! the kernel reads the tensors' buffers through their strides.

use std::any::Any;

use burn::tensor::{DType, Tensor, TensorData, TensorPrimitive, backend::Backend};
use burn_flex::FlexTensor;

use super::attention::{Mask, View4, attention as attention_kernel};
use super::pool::{Cells, View3, cell_means as cell_means_kernel};

/// The tensor's flex primitive when `B` is the plain flex backend (shared buffer, no copy).
pub(super) fn flex_of<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<FlexTensor> {
    let TensorPrimitive::Float(p) = t.clone().into_primitive() else {
        return None;
    };
    let boxed: Box<dyn Any> = Box::new(p);
    boxed.downcast::<FlexTensor>().ok().map(|b| *b)
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
pub(super) fn view(t: &FlexTensor) -> Option<View4<'_>> {
    let (data, offset, shape, strides) = parts::<4>(t)?;
    Some(View4 {
        data,
        offset,
        shape,
        strides,
    })
}

/// A burn tensor of backend `B` holding `t` (`None` unless `B` is the plain flex backend).
pub(super) fn from_flex<B: Backend, const D: usize>(t: FlexTensor) -> Option<Tensor<B, D>> {
    let boxed: Box<dyn Any> = Box::new(t);
    let prim = *boxed.downcast::<B::FloatTensorPrimitive>().ok()?;
    Some(Tensor::from_primitive(TensorPrimitive::Float(prim)))
}

/// `softmax(scale · q kᵀ + mask) v` by hico's CPU kernel ([`super::attention`]) when the
/// tensors live on the plain flex backend in `f32`; `None` otherwise (the caller composes
/// burn ops instead).
///
/// # Shapes
/// - `q`: `[B, heads, Lq, d]`, `k`, `v`: `[B, kv_heads, Lk, d]` (grouped-query heads are read
///   in place, as [`super::attention::attention`])
/// - returns `[B, heads, Lq, d]`, stored as `[B, Lq, heads, d]` so that swapping dimensions 1
///   and 2 and merging the heads copies nothing
pub fn attention<B: Backend>(
    q: &Tensor<B, 4>,
    k: &Tensor<B, 4>,
    v: &Tensor<B, 4>,
    mask: Mask,
    scale: f32,
) -> Option<Tensor<B, 4>> {
    let Some((fq, fk, fv)) = flex_of(q)
        .zip(flex_of(k))
        .zip(flex_of(v))
        .map(|((q, k), v)| (q, k, v))
    else {
        return super::autodiff::attention(q, k, v, mask, scale);
    };
    let (vq, vk, vv) = (view(&fq)?, view(&fk)?, view(&fv)?);
    let [b, heads, lq, d] = vq.shape;
    let out = attention_kernel(vq, vk, vv, mask, scale);
    let out = FlexTensor::from_data(TensorData::new(out, [b, lq, heads, d])).permute(&[0, 2, 1, 3]);
    from_flex(out)
}

/// `x` rotated by `cos` / `sin` ([`super::rope::rope`]) when the tensors live on the plain
/// flex backend in `f32`; `None` otherwise.
///
/// # Shapes
/// - `x`: `[B, H, L, d]`, `cos`, `sin`: `[1, 1, L, d]`; returns `[B, H, L, d]`, stored as
///   `[B, L, H, d]` (the projection's layout)
pub fn rope<B: Backend>(
    x: &Tensor<B, 4>,
    cos: &Tensor<B, 4>,
    sin: &Tensor<B, 4>,
) -> Option<Tensor<B, 4>> {
    let Some(fx) = flex_of(x) else {
        return super::autodiff::rope(x, cos, sin);
    };
    from_flex(rope_flex(&fx, &flex_of(cos)?, &flex_of(sin)?)?)
}

/// A rotary table as `f32` values stored contiguously from the buffer's start.
pub(super) fn table(t: &FlexTensor) -> Option<FlexTensor> {
    let f = if t.is_contiguous() && t.layout().start_offset() == 0 {
        t.clone()
    } else {
        t.to_contiguous()
    };
    (f.dtype() == DType::F32).then_some(f)
}

/// [`rope`] on flex tensors: `x` `[B, H, L, d]` rotated by `cos`, `sin` (`L·d` values each);
/// the result is stored `[B, L, H, d]`.
pub(super) fn rope_flex(x: &FlexTensor, cos: &FlexTensor, sin: &FlexTensor) -> Option<FlexTensor> {
    let vx = view(x)?;
    let (fc, fs) = (table(cos)?, table(sin)?);
    let [b, h, l, d] = vx.shape;
    let n = l * d;
    if fc.layout().num_elements() != n || fs.layout().num_elements() != n {
        return None;
    }
    let out = super::rope::rope(vx, &fc.storage::<f32>()[..n], &fs.storage::<f32>()[..n]);
    Some(FlexTensor::from_data(TensorData::new(out, [b, l, h, d])).permute(&[0, 2, 1, 3]))
}

/// The mean feature of every cell of a patch grid ([`super::pool::cell_means`]) when the
/// tensor lives on the plain flex backend in `f32`; `None` otherwise.
///
/// # Shapes
/// - `x`: `[clips, frames·h·w, D]`; returns `[clips, frames·sh·sw, D]`
pub fn cell_means<B: Backend>(x: &Tensor<B, 3>, cells: Cells) -> Option<Tensor<B, 3>> {
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
    from_flex(FlexTensor::from_data(TensorData::new(out, [c, rows, d])))
}

/// The `f32` elements of a flex tensor stored contiguously (any start offset), without a copy.
/// Dimensions of size 1 may have any stride: a block of rows sliced out of `[1, L, D]` is
/// contiguous here, though burn-flex's own check (which wants every stride canonical) says
/// it is not.
pub(super) fn contiguous(t: &FlexTensor) -> Option<&[f32]> {
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

/// `silu(gate) · up` ([`super::act::silu_mul`]) when both tensors live on the plain flex
/// backend in `f32`, stored contiguously with the same shape; `None` otherwise.
pub fn silu_mul<B: Backend, const D: usize>(
    gate: &Tensor<B, D>,
    up: &Tensor<B, D>,
) -> Option<Tensor<B, D>> {
    let Some((fg, fu)) = flex_of(gate).zip(flex_of(up)) else {
        return super::autodiff::silu_mul(gate, up);
    };
    if fg.layout().shape() != fu.layout().shape() {
        return None;
    }
    let (g, u) = (contiguous(&fg)?, contiguous(&fu)?);
    let mut out = vec![0.0f32; g.len()];
    super::act::silu_mul(g, u, &mut out);
    from_flex(FlexTensor::from_data(TensorData::new(out, gate.dims())))
}

/// `gelu(x)` (erf form, [`super::act::gelu`]) when `x` lives on the plain flex backend in
/// `f32`, stored contiguously; `None` otherwise.
pub fn gelu<B: Backend, const D: usize>(x: &Tensor<B, D>) -> Option<Tensor<B, D>> {
    let Some(fx) = flex_of(x) else {
        return super::autodiff::gelu(x);
    };
    let v = contiguous(&fx)?;
    let mut out = vec![0.0f32; v.len()];
    super::act::gelu(v, &mut out);
    from_flex(FlexTensor::from_data(TensorData::new(out, x.dims())))
}

/// `x · γ / √(mean(x²) + ε)` over the last dimension ([`super::norm::rms_norm`]) when both
/// tensors live on the plain flex backend in `f32`, stored contiguously, `γ` as wide as `x`'s
/// rows; `None` otherwise. Under burn's autodiff on flex it is one tracked op with its own
/// backward (`autodiff.rs`).
pub fn rms_norm<B: Backend, const D: usize>(
    x: &Tensor<B, D>,
    gamma: &Tensor<B, 1>,
    eps: f32,
) -> Option<Tensor<B, D>> {
    let Some((fx, fg)) = flex_of(x).zip(flex_of(gamma)) else {
        return super::autodiff::rms_norm(x, gamma, eps);
    };
    let (v, g) = (contiguous(&fx)?, contiguous(&fg)?);
    if g.is_empty() || x.dims()[D - 1] != g.len() {
        return None;
    }
    let mut out = vec![0.0f32; v.len()];
    let mut r = vec![0.0f32; v.len() / g.len()];
    super::norm::rms_norm(v, g, eps, &mut out, &mut r);
    from_flex(FlexTensor::from_data(TensorData::new(out, x.dims())))
}

/// `x · w (+ bias)` by [`super::gemv`] when `x` has at most [`super::gemv::MAX_ROWS`] rows and
/// the tensors live on the plain flex backend in `f32`, `w` stored `[k, n]` or as the
/// transpose of a stored `[n, k]` (a transposed view); `None` otherwise (a matrix product).
///
/// # Shapes
/// - `x`: `[m, k]`, `w`: `[k, n]`, `bias`: `[n]`; returns `[m, n]`
pub fn few_rows_matmul<B: Backend>(
    x: &Tensor<B, 2>,
    w: &Tensor<B, 2>,
    bias: Option<&Tensor<B, 1>>,
) -> Option<Tensor<B, 2>> {
    use super::gemv::{MAX_ROWS, Weights, gemv};
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
    from_flex(FlexTensor::from_data(TensorData::new(y, [m, n])))
}

/// `x · w (+ bias)` by [`super::linear::matmul`] (one product into a buffer written once)
/// when the tensors live on the plain flex backend in `f32`; under burn's autodiff on flex
/// the product is one tracked op with its own backward (two more such products) and the
/// bias a tracked addition; `None` otherwise.
///
/// # Shapes
/// - `x`: `[m, k]`, `w`: `[k, n]`, `bias`: `[n]`; returns `[m, n]`
pub fn linear<B: Backend>(
    x: &Tensor<B, 2>,
    w: &Tensor<B, 2>,
    bias: Option<&Tensor<B, 1>>,
) -> Option<Tensor<B, 2>> {
    let Some((fx, fw)) = flex_of(x).zip(flex_of(w)) else {
        let y = super::autodiff::matmul(x, w)?;
        return Some(match bias {
            Some(b) => y + b.clone().unsqueeze_dim(0),
            None => y,
        });
    };
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
    let y = super::linear::matmul(a, b, bias);
    from_flex(FlexTensor::from_data(TensorData::new(y, shape)))
}

/// A strided view of a rank-2 `f32` flex tensor.
pub(super) fn mat(t: &FlexTensor) -> Option<super::linear::Mat<'_>> {
    let (data, offset, shape, strides) = parts::<2>(t)?;
    Some(super::linear::Mat {
        data,
        offset,
        shape,
        strides,
    })
}

/// The flex tensor of `t`, taken by value (no second owner of its buffer), when `B` is the
/// plain flex backend.
fn into_flex<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<FlexTensor, Tensor<B, D>> {
    if flex_of(&t).is_none_or(|f| f.dtype() != DType::F32) {
        return Err(t);
    }
    let TensorPrimitive::Float(p) = t.into_primitive() else {
        unreachable!("flex_of read a float tensor")
    };
    let boxed: Box<dyn Any> = Box::new(p);
    Ok(*boxed
        .downcast::<FlexTensor>()
        .expect("flex_of read a flex tensor"))
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

/// A parameter, its gradient and its two AdamW moments (`None` before the first step).
pub type AdamWTensors<B, const D: usize> = (
    Tensor<B, D>,
    Tensor<B, D>,
    Option<(Tensor<B, D>, Tensor<B, D>)>,
);

/// One AdamW step ([`super::adamw`]) in one pass, in place where the buffers are not shared:
/// the new parameter and moments, when all the tensors live on the plain flex backend in
/// `f32` with one shape; otherwise the inputs back, untouched, for the composed step.
#[allow(clippy::type_complexity)]
pub fn adamw<B: Backend, const D: usize>(
    step: &super::adamw::AdamWStep,
    (param, grad, moments): AdamWTensors<B, D>,
) -> Result<(Tensor<B, D>, Tensor<B, D>, Tensor<B, D>), AdamWTensors<B, D>> {
    let dims = param.dims();
    let fits =
        |t: &Tensor<B, D>| t.dims() == dims && flex_of(t).is_some_and(|f| f.dtype() == DType::F32);
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
    super::adamw::adamw_step(
        step,
        p.storage_mut::<f32>(),
        contiguous(&g).expect("made contiguous above"),
        m.storage_mut::<f32>(),
        v.storage_mut::<f32>(),
    );
    let back = |t| from_flex::<B, D>(t).expect("the plain flex backend");
    Ok((back(p), back(m), back(v)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Cpu, CpuAutodiff};
    use burn::tensor::{Distribution, Tolerance, activation::softmax};

    /// Whether tensors of backend `B` take the kernel path (the plain flex backend).
    fn has_attention_kernel<B: Backend>(device: &B::Device) -> bool {
        let probe = Tensor::<B, 4>::zeros([1, 1, 1, 1], device);
        flex_of(&probe).is_some_and(|t| view(&t).is_some())
    }

    #[test]
    fn flex_of_reads_the_plain_flex_backend_only() {
        assert!(has_attention_kernel::<Cpu>(&Default::default()));
        assert!(!has_attention_kernel::<CpuAutodiff>(&Default::default()));
    }

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
                rope(&xv, &c, &s).expect("autodiff over flex takes the kernel")
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
                linear(&x, &w, Some(&bias)).expect("autodiff over flex takes the kernel")
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
        let y = linear(&x0, &w, None).expect("flex takes the kernel");
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
                attention(&qv, &kv_, &vv, Mask::Causal { offset: 0 }, scale)
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
        let got = attention(&q, &k, &v, Mask::None, scale).expect("flex takes the kernel");
        let want = softmax(q.matmul(k.swap_dims(2, 3)).mul_scalar(scale), 3).matmul(v);
        assert_eq!(got.dims(), [1, h, l, d]);
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), Tolerance::absolute(1e-5));
    }
}
