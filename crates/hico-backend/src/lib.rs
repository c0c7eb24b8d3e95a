//! # hico-backend
//!
//! The burn side of hico's kernels: [`HicoBackend`], a burn backend extension (the way burn's
//! custom-kernel examples extend `Backend`), with one method per op that hico runs its own
//! way: attention, RoPE, SwiGLU, GELU, RMSNorm, the linear layers' product, the `pool`
//! compressor's cell means and AdamW's step. Model code is generic over `B: HicoBackend` and
//! calls `B::attention(..)`; which code runs is decided by type, at compile time:
//!
//! | backend | what runs |
//! |---|---|
//! | any backend (the trait's default methods) | burn ops ([`composed`]): attention with an online softmax over tiles, no `L × L` buffer |
//! | burn's `flex` CPU backend | hico's CPU kernels ([`hico_kernels`]) on `f32` tensors read in place; other dtypes and layouts a kernel cannot read: the composed ops (each case named in `flex.rs`) |
//! | `Autodiff<B>` | `B`'s `autodiff_*` methods: on flex one autodiff node per op with its own backward kernel; elsewhere the composed ops, tracked by burn-autodiff |
//! | the cubecl backends (burn-cuda, burn-wgpu; with burn's fusion too; features `cubecl`, `fusion`) | burn's fused attention op where it is exact (no mask, or a causal prefill), the composed ops elsewhere; burn's fusion fuses the composed elementwise ops |
//!
//! [`HicoAutodiff`] names what training needs: an autodiff backend whose inner backend is a
//! [`HicoBackend`] too (the evaluation path runs on the inner backend).
//!
//! Also here: the CPU backend aliases and the rayon worker helper ([`cpu`]), linear layers
//! over rows ([`nn`]), and heap accounting for memory tests and benches ([`mem`]).

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::tensor::Tensor;
use burn::tensor::backend::{AutodiffBackend, Backend};

pub use hico_kernels::adamw::AdamWStep;
pub use hico_kernels::attention::Mask;
pub use hico_kernels::pool::Cells;

mod autodiff;
pub mod composed;
pub mod cpu;
#[cfg(feature = "cubecl")]
mod cubecl;
mod flex;
pub mod mem;
pub mod nn;

pub use cpu::{Cpu, CpuAutodiff, cpu_device, on_worker};

/// A parameter, its gradient and its two AdamW moments (`None` before the first step).
pub type AdamWTensors<B, const D: usize> = (
    Tensor<B, D>,
    Tensor<B, D>,
    Option<(Tensor<B, D>, Tensor<B, D>)>,
);

/// The ops hico runs its own way, as a burn backend extension. Every method has a default
/// made of burn ops ([`composed`]); a backend overrides what it has kernels for. See the
/// crate docs for which backend runs what.
pub trait HicoBackend: Backend {
    /// `softmax(scale · q kᵀ + mask) v`, grouped-query heads read in place.
    ///
    /// `block` is the tile size (queries and keys) of the composed form: its scratch is
    /// `heads × block²` scores whatever the length; backends with their own kernel ignore it.
    ///
    /// # Shapes
    /// - `q`: `[B, heads, Lq, d]`, `k`, `v`: `[B, kv_heads, Lk, d]` with `heads` a multiple of
    ///   `kv_heads` (query head `j` reads key head `j / (heads / kv_heads)`)
    /// - returns `[B, heads, Lq, d]`
    fn softmax_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        mask: Mask,
        scale: f32,
        block: usize,
    ) -> Tensor<Self, 4> {
        composed::attention(q, k, v, mask, scale, block)
    }

    /// `x` rotated by the rotary tables (the rotate-half form of HF's `apply_rotary_pos_emb`).
    ///
    /// # Shapes
    /// - `x`: `[B, H, L, d]`, `cos`, `sin`: `[1, 1, L, d]`; returns `[B, H, L, d]`
    fn rope(x: Tensor<Self, 4>, cos: Tensor<Self, 4>, sin: Tensor<Self, 4>) -> Tensor<Self, 4> {
        composed::rope(x, cos, sin)
    }

    /// `silu(gate) · up`, SwiGLU's product.
    fn swiglu<const D: usize>(gate: Tensor<Self, D>, up: Tensor<Self, D>) -> Tensor<Self, D> {
        composed::swiglu(gate, up)
    }

    /// The exact (erf) GELU.
    fn gelu_erf<const D: usize>(x: Tensor<Self, D>) -> Tensor<Self, D> {
        composed::gelu(x)
    }

    /// `x · γ / √(mean(x²) + ε)` over the last dimension (burn's `RmsNorm`).
    ///
    /// # Shapes
    /// - `x`: `[..., n]`, `gamma`: `[n]`; returns the shape of `x`
    fn rms_norm<const D: usize>(
        x: Tensor<Self, D>,
        gamma: Tensor<Self, 1>,
        eps: f64,
    ) -> Tensor<Self, D> {
        composed::rms_norm(x, gamma, eps)
    }

    /// `x · w (+ bias)`.
    ///
    /// # Shapes
    /// - `x`: `[m, k]`, `w`: `[k, n]` (any strides: a transposed view is read in place where
    ///   the backend can), `bias`: `[n]`; returns `[m, n]`
    fn matmul_bias(
        x: Tensor<Self, 2>,
        w: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, 2> {
        composed::linear(x, w, bias)
    }

    /// `x · wᵀ` with `w` stored `[n, k]` (a tied output head: the embedding matrix).
    ///
    /// # Shapes
    /// - `x`: `[m, k]`, `w`: `[n, k]`; returns `[m, n]`
    fn matmul_wt(x: Tensor<Self, 2>, w: Tensor<Self, 2>) -> Tensor<Self, 2> {
        composed::matmul_wt(x, w)
    }

    /// The mean feature of every cell of each frame's patch grid (the `pool` compressor).
    ///
    /// # Shapes
    /// - `x`: `[clips, frames·h·w, D]`; returns `[clips, frames·sh·sw, D]`
    fn cell_means(x: Tensor<Self, 3>, cells: Cells) -> Tensor<Self, 3> {
        composed::cell_means(x, cells)
    }

    /// One AdamW step in one pass: the new parameter and moments. The default hands the
    /// tensors back (`Err`), and the optimizer takes burn's own composed AdamW step.
    #[allow(clippy::type_complexity)]
    fn adamw<const D: usize>(
        step: &AdamWStep,
        tensors: AdamWTensors<Self, D>,
    ) -> Result<(Tensor<Self, D>, Tensor<Self, D>, Tensor<Self, D>), AdamWTensors<Self, D>> {
        let _ = step;
        Err(tensors)
    }

    /// [`HicoBackend::softmax_attention`] on `Autodiff<Self, C>` (what `Autodiff`'s impl calls): by
    /// default the composed ops, tracked by burn-autodiff.
    fn autodiff_softmax_attention<C: CheckpointStrategy>(
        q: Tensor<Autodiff<Self, C>, 4>,
        k: Tensor<Autodiff<Self, C>, 4>,
        v: Tensor<Autodiff<Self, C>, 4>,
        mask: Mask,
        scale: f32,
        block: usize,
    ) -> Tensor<Autodiff<Self, C>, 4> {
        composed::attention(q, k, v, mask, scale, block)
    }

    /// [`HicoBackend::rope`] on `Autodiff<Self, C>` (default: composed, tracked).
    fn autodiff_rope<C: CheckpointStrategy>(
        x: Tensor<Autodiff<Self, C>, 4>,
        cos: Tensor<Autodiff<Self, C>, 4>,
        sin: Tensor<Autodiff<Self, C>, 4>,
    ) -> Tensor<Autodiff<Self, C>, 4> {
        composed::rope(x, cos, sin)
    }

    /// [`HicoBackend::swiglu`] on `Autodiff<Self, C>` (default: composed, tracked).
    fn autodiff_swiglu<C: CheckpointStrategy, const D: usize>(
        gate: Tensor<Autodiff<Self, C>, D>,
        up: Tensor<Autodiff<Self, C>, D>,
    ) -> Tensor<Autodiff<Self, C>, D> {
        composed::swiglu(gate, up)
    }

    /// [`HicoBackend::gelu_erf`] on `Autodiff<Self, C>` (default: composed, tracked).
    fn autodiff_gelu_erf<C: CheckpointStrategy, const D: usize>(
        x: Tensor<Autodiff<Self, C>, D>,
    ) -> Tensor<Autodiff<Self, C>, D> {
        composed::gelu(x)
    }

    /// [`HicoBackend::rms_norm`] on `Autodiff<Self, C>` (default: composed, tracked).
    fn autodiff_rms_norm<C: CheckpointStrategy, const D: usize>(
        x: Tensor<Autodiff<Self, C>, D>,
        gamma: Tensor<Autodiff<Self, C>, 1>,
        eps: f64,
    ) -> Tensor<Autodiff<Self, C>, D> {
        composed::rms_norm(x, gamma, eps)
    }

    /// [`HicoBackend::matmul_bias`] on `Autodiff<Self, C>` (default: composed, tracked).
    fn autodiff_matmul_bias<C: CheckpointStrategy>(
        x: Tensor<Autodiff<Self, C>, 2>,
        w: Tensor<Autodiff<Self, C>, 2>,
        bias: Option<Tensor<Autodiff<Self, C>, 1>>,
    ) -> Tensor<Autodiff<Self, C>, 2> {
        composed::linear(x, w, bias)
    }
}

/// A backend to train on: autodiff over a [`HicoBackend`], itself a [`HicoBackend`] (the
/// training step runs on it, evaluation on its inner backend). Implemented for every such
/// backend.
pub trait HicoAutodiff: AutodiffBackend<InnerBackend: HicoBackend> + HicoBackend {}

impl<B> HicoAutodiff for B where B: AutodiffBackend<InnerBackend: HicoBackend> + HicoBackend {}
