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
fn flex_of<B: Backend, const D: usize>(t: &Tensor<B, D>) -> Option<FlexTensor> {
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
fn view(t: &FlexTensor) -> Option<View4<'_>> {
    let (data, offset, shape, strides) = parts::<4>(t)?;
    Some(View4 {
        data,
        offset,
        shape,
        strides,
    })
}

/// A burn tensor of backend `B` holding `t` (`None` unless `B` is the plain flex backend).
fn from_flex<B: Backend, const D: usize>(t: FlexTensor) -> Option<Tensor<B, D>> {
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
    let (fq, fk, fv) = (flex_of(q)?, flex_of(k)?, flex_of(v)?);
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
    let fx = flex_of(x)?;
    let vx = view(&fx)?;
    let table = |t: &Tensor<B, 4>| -> Option<FlexTensor> {
        let f = flex_of(t)?;
        let f = if f.is_contiguous() && f.layout().start_offset() == 0 {
            f
        } else {
            f.to_contiguous()
        };
        (f.dtype() == DType::F32).then_some(f)
    };
    let (fc, fs) = (table(cos)?, table(sin)?);
    let [b, h, l, d] = vx.shape;
    let n = l * d;
    if fc.layout().num_elements() != n || fs.layout().num_elements() != n {
        return None;
    }
    let out = super::rope::rope(vx, &fc.storage::<f32>()[..n], &fs.storage::<f32>()[..n]);
    from_flex(FlexTensor::from_data(TensorData::new(out, [b, l, h, d])).permute(&[0, 2, 1, 3]))
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
fn contiguous(t: &FlexTensor) -> Option<&[f32]> {
    if t.dtype() != DType::F32 || !t.is_contiguous() {
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
    let (fg, fu) = (flex_of(gate)?, flex_of(up)?);
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
    let fx = flex_of(x)?;
    let v = contiguous(&fx)?;
    let mut out = vec![0.0f32; v.len()];
    super::act::gelu(v, &mut out);
    from_flex(FlexTensor::from_data(TensorData::new(out, x.dims())))
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
    fn flex_takes_the_kernel_and_autodiff_does_not() {
        assert!(has_attention_kernel::<Cpu>(&Default::default()));
        assert!(!has_attention_kernel::<CpuAutodiff>(&Default::default()));
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
