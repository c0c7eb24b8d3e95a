//! The ops of [`crate::HicoBackend`] composed of burn ops: the trait's default methods, what
//! every backend without a kernel of its own runs (and burn-autodiff tracks), and the forms
//! `attention = "composed"` forces everywhere. [`fused_within`] is the cubecl backends'
//! attention: burn's fused op where it computes exactly what hico asks and its memory is
//! bounded, else the tiles.

use burn::tensor::{
    Bool, Int, Tensor, TensorData, activation, backend::Backend, module::attention as fused,
    ops::AttentionModuleOptions,
};

use hico_kernels::attention::Mask;
use hico_kernels::pool::Cells;

/// A finite stand-in for −∞ (keeps `exp(m_old − m_new)` free of NaN).
const NEG: f32 = -1.0e30;

/// Repeat key/value heads for grouped-query attention (`repeat_kv` in HF: query head `j`
/// uses key head `j / n_rep`).
///
/// # Shapes
/// - `x`: `[B, kv_heads, L, d]` → `[B, kv_heads·n_rep, L, d]`
pub fn repeat_kv<B: Backend>(x: Tensor<B, 4>, n_rep: usize) -> Tensor<B, 4> {
    if n_rep == 1 {
        return x;
    }
    let [b, kv, l, d] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, kv, n_rep, l, d])
        .reshape([b, kv * n_rep, l, d])
}

/// Causal mask block for `groups` stacked copies of query rows `q0..q0+nq`: true (masked)
/// where key index `>` query index; `[groups·nq, nk]`. Built on the device from two index
/// ranges (no host-side matrix to upload for every diagonal tile).
pub fn causal_mask<B: Backend>(
    q0: usize,
    nq: usize,
    k0: usize,
    nk: usize,
    groups: usize,
    device: &B::Device,
) -> Tensor<B, 2, Bool> {
    let range = |a: usize, n: usize| Tensor::<B, 1, Int>::arange(a as i64..(a + n) as i64, device);
    let query = range(q0, nq).reshape([nq, 1]).expand([nq, nk]);
    let key = range(k0, nk).reshape([1, nk]).expand([nq, nk]);
    key.greater(query)
        .unsqueeze::<3>()
        .expand([groups, nq, nk])
        .reshape([groups * nq, nk])
}

/// `softmax(scale · q kᵀ + mask) v` of burn ops.
///
/// Without a mask and with `block >= Lk`, one explicit product (key/value heads repeated).
/// Otherwise in tiles of `block` queries × `block` keys with an online softmax (running
/// maximum and normaliser, as in FlashAttention): peak scratch `heads × block²` scores
/// whatever the length; the `n_rep` query heads sharing a key head are stacked as extra
/// query rows of it, so keys and values are read in their `[B, kv_heads, L, d]` layout.
/// Under `Mask::Causal { offset }` query row `i` sits at key index `offset + i`; keys past
/// `offset + Lq` are never read (a decode step may pass a whole preallocated cache).
///
/// # Shapes
/// As [`crate::HicoBackend::softmax_attention`].
pub fn attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Mask,
    scale: f32,
    block: usize,
) -> Tensor<B, 4> {
    let [b, heads, lq, d] = q.dims();
    let [_, h, lk, _] = k.dims();
    assert!(
        h > 0 && heads % h == 0,
        "{heads} query heads over {h} key/value heads"
    );
    let g = heads / h; // query heads per key head, stacked as rows
    let offset = match mask {
        Mask::None => None,
        Mask::Causal { offset } => Some(offset),
    };
    let block = block.max(1);
    if offset.is_none() && block >= lk {
        let scores = q
            .mul_scalar(scale as f64)
            .matmul(repeat_kv(k, g).swap_dims(2, 3));
        return activation::softmax(scores, 3).matmul(repeat_kv(v, g));
    }
    let device = q.device();
    let mut outs = Vec::new();
    for q0 in (0..lq).step_by(block) {
        let nq = block.min(lq - q0);
        // [b, heads, nq, d] → [b, kv_heads, g·nq, d]: row r·nq + i is query i of head r.
        let qb = q
            .clone()
            .slice([0..b, 0..heads, q0..q0 + nq, 0..d])
            .mul_scalar(scale as f64)
            .reshape([b, h, g * nq, d]);
        let rows = g * nq;
        // Keys beyond the last query's position are masked for every row.
        let last_key = offset.map_or(lk, |o| (o + q0 + nq).min(lk));
        let mut m: Tensor<B, 4> = Tensor::full([b, h, rows, 1], NEG, &device);
        let mut l: Tensor<B, 4> = Tensor::zeros([b, h, rows, 1], &device);
        let mut acc: Tensor<B, 4> = Tensor::zeros([b, h, rows, d], &device);
        for k0 in (0..last_key).step_by(block) {
            let nk = block.min(last_key - k0);
            let kb = k.clone().slice([0..b, 0..h, k0..k0 + nk, 0..d]);
            let vb = v.clone().slice([0..b, 0..h, k0..k0 + nk, 0..d]);
            let mut s = qb.clone().matmul(kb.swap_dims(2, 3)); // [b, h, rows, nk]
            if let Some(o) = offset.filter(|&o| k0 + nk > o + q0 + 1) {
                let mk = causal_mask::<B>(o + q0, nq, k0, nk, g, &device)
                    .unsqueeze::<4>()
                    .expand([b, h, rows, nk]);
                s = s.mask_fill(mk, NEG);
            }
            let m_new = m.clone().max_pair(s.clone().max_dim(3));
            let p = (s - m_new.clone()).exp();
            let corr = (m - m_new.clone()).exp();
            l = l * corr.clone() + p.clone().sum_dim(3);
            acc = acc * corr + p.matmul(vb);
            m = m_new;
        }
        outs.push((acc / l).reshape([b, heads, nq, d]));
    }
    Tensor::cat(outs, 2)
}

/// burn's fused attention op where it computes exactly [`attention`]'s result: no mask, or
/// a causal mask over a fresh prefill (`offset == 0`, as many queries as keys; backends
/// differ in how they align a causal mask when there are more keys than queries), with the
/// op's own scale `1/√d` (the flash kernels of burn-cubecl take no other: given any explicit
/// scale, burn runs its naive `L × L` form instead, so a scale within an ulp of `1/√d` is
/// passed as the default and any other runs [`attention`]). Key and value heads are
/// repeated for grouped-query attention (the op wants as many as the query heads). Anything
/// else (a decode step, a chunk of queries after a cache) runs [`attention`]. Not for
/// autodiff backends: burn-autodiff implements the fused op as the naive `L × L` product.
///
/// Memory is burn's: with `autotune`, burn benchmarks its naive form beside the flash
/// kernels for up to 4,096 queries (and runs it alone without `autotune`), which holds
/// every `L × L` score; [`fused_within`] bounds that.
pub fn fused_where_exact<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Mask,
    scale: f32,
    block: usize,
) -> Tensor<B, 4> {
    let [_, heads, lq, d] = q.dims();
    let lk = k.dims()[2];
    let is_causal = match mask {
        Mask::None => false,
        Mask::Causal { offset: 0 } if lq == lk => true,
        Mask::Causal { .. } => return attention(q, k, v, mask, scale, block),
    };
    if !is_default_scale(scale, d) {
        return attention(q, k, v, mask, scale, block);
    }
    let rep = heads / k.dims()[1];
    let options = AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal,
    };
    fused(q, repeat_kv(k, rep), repeat_kv(v, rep), None, None, options)
}

/// The most bytes of scores burn's fused op may hold at once under [`fused_within`]: half
/// of lavapipe's 128 MiB storage-buffer limit; 16 M f32 scores, a prefill of about 1,180
/// tokens at 12 heads. Which side of it is faster on a GPU is what `scripts/gpu-check.sh`'s
/// `long` part measures (not yet run).
pub const FUSED_SCORES_MAX_BYTES: usize = 64 << 20;

/// [`fused_where_exact`] where burn's naive form of the op (`B·heads·Lq·Lk` f32 scores)
/// fits `max_bytes` (the cubecl backends pass [`FUSED_SCORES_MAX_BYTES`]), else the tiled
/// [`attention`], whose scratch is one tile whatever the length, with tiles of `block`
/// halved until one tile's scores (`B·heads·block²`) fit the bound too (the vision encoder
/// asks for one tile of every key; a batch of 448-px clips made a 300 MiB score tensor):
/// the cubecl backends' `attention = "own"`, so no score tensor outgrows the bound and a
/// long prefill's memory grows linearly with its tokens on every backend.
pub fn fused_within<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    mask: Mask,
    scale: f32,
    block: usize,
    max_bytes: usize,
) -> Tensor<B, 4> {
    let [b, heads, lq, _] = q.dims();
    let lk = k.dims()[2];
    let f32s = |n: usize| n * size_of::<f32>();
    if f32s(b * heads * lq * lk) <= max_bytes {
        return fused_where_exact(q, k, v, mask, scale, block);
    }
    let mut tile = block.clamp(1, lk.max(1));
    while tile > 16 && f32s(b * heads * tile * tile) > max_bytes {
        tile = tile.div_ceil(2);
    }
    attention(q, k, v, mask, scale, tile)
}

/// Whether `scale` is the fused op's default `1/√d` to within two ulps (hico computes it as
/// `d^-0.5` in some places and `1/√d` in others).
fn is_default_scale(scale: f32, d: usize) -> bool {
    let default = (d as f32).sqrt().recip();
    (scale - default).abs() <= 2.0 * f32::EPSILON * default
}

/// The rotate-half rotary step: `x · cos + [−x₂, x₁] · sin`.
///
/// # Shapes
/// As [`crate::HicoBackend::rope`].
pub fn rope<B: Backend>(x: Tensor<B, 4>, cos: Tensor<B, 4>, sin: Tensor<B, 4>) -> Tensor<B, 4> {
    let [b, h, l, d] = x.dims();
    let x1 = x.clone().slice([0..b, 0..h, 0..l, 0..d / 2]);
    let x2 = x.clone().slice([0..b, 0..h, 0..l, d / 2..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos + rotated * sin
}

/// `silu(gate) · up`.
pub fn swiglu<B: Backend, const D: usize>(gate: Tensor<B, D>, up: Tensor<B, D>) -> Tensor<B, D> {
    activation::silu(gate) * up
}

/// burn's exact (erf) GELU.
pub fn gelu<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    activation::gelu(x)
}

/// burn's `RmsNorm::forward`, op for op (the mean of squares in `f32`).
pub fn rms_norm<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    gamma: Tensor<B, 1>,
    eps: f64,
) -> Tensor<B, D> {
    let dtype = x.dtype();
    let rms = (x
        .clone()
        .cast(burn::tensor::DType::F32)
        .square()
        .mean_dim(D - 1)
        + eps)
        .sqrt();
    (x / rms.cast(dtype)) * gamma.unsqueeze()
}

/// `x · w (+ bias)`: burn's `module::linear`, what burn's `Linear::forward` runs (the
/// backend's own linear op).
pub fn linear<B: Backend>(
    x: Tensor<B, 2>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, 2> {
    burn::tensor::module::linear(x, w, bias)
}

/// `x · wᵀ` with `w` stored `[n, k]`, as `(w · xᵀ)ᵀ`: the product reads `w` in its stored
/// layout (a product with its transposed view may copy the whole matrix per call).
pub fn matmul_wt<B: Backend>(x: Tensor<B, 2>, w: Tensor<B, 2>) -> Tensor<B, 2> {
    w.matmul(x.transpose()).transpose()
}

/// The `[1, s, n]` averaging matrix of one axis of length `n` cut into `s` cells
/// (boundaries `⌊i·n/s⌋`): row `c` holds `1 / size` on the positions of cell `c`.
fn axis_means<B: Backend>(n: usize, s: usize, device: &B::Device) -> Tensor<B, 3> {
    let mut w = vec![0f32; s * n];
    for c in 0..s {
        let (a, b) = (c * n / s, (c + 1) * n / s);
        w[c * n + a..c * n + b].fill(1.0 / (b - a) as f32);
    }
    Tensor::from_data(TensorData::new(w, [1, s, n]), device)
}

/// The cells' means by two small batched products with the axes' averaging matrices
/// (columns, then rows of each frame) instead of one dense `[f·sh·sw, f·h·w]` matrix per
/// clip (mostly zeros: 12× / 14× the multiply-adds at 224 / 448 px).
///
/// # Shapes
/// - `tokens`: `[c, f·h·w, D]`; returns `[c, f·sh·sw, D]`
pub fn cell_means<B: Backend>(tokens: Tensor<B, 3>, cells: Cells) -> Tensor<B, 3> {
    let [c, _, d] = tokens.dims();
    let Cells {
        frames: f,
        h,
        w,
        sh,
        sw,
    } = cells;
    let dev = tokens.device();
    // Columns first: [c·f·h, w, D] → [c·f·h, sw, D] (measured faster than rows first).
    let cols = axis_means::<B>(w, sw, &dev)
        .expand([c * f * h, sw, w])
        .matmul(tokens.reshape([c * f * h, w, d]));
    // Then rows: [c·f, h, sw·D] → [c·f, sh, sw·D], i.e. frame-major, row-major cells.
    axis_means::<B>(h, sh, &dev)
        .expand([c * f, sh, h])
        .matmul(cols.reshape([c * f, h, sw * d]))
        .reshape([c, f * sh * sw, d])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cpu, HicoBackend};
    use burn::tensor::{Distribution, Tolerance};

    /// The full-matrix attention with a `-inf` causal mask, for comparison.
    fn naive(
        q: Tensor<Cpu, 4>,
        k: Tensor<Cpu, 4>,
        v: Tensor<Cpu, 4>,
        offset: Option<usize>,
        scale: f32,
    ) -> Tensor<Cpu, 4> {
        let [b, h, lq, _] = q.dims();
        let g = h / k.dims()[1];
        let (k, v) = (repeat_kv(k, g), repeat_kv(v, g));
        let lk = k.dims()[2];
        let mut s = q.mul_scalar(scale as f64).matmul(k.swap_dims(2, 3));
        if let Some(o) = offset {
            let mk = causal_mask::<Cpu>(o, lq, 0, lk, 1, &Default::default())
                .unsqueeze::<4>()
                .expand([b, h, lq, lk]);
            s = s.mask_fill(mk, f32::NEG_INFINITY);
        }
        activation::softmax(s, 3).matmul(v)
    }

    /// Batches of two, grouped-query heads, tiles that do not divide the lengths, the fused
    /// op's own scale and another: the tiled form, the explicit one, the flex kernel and the
    /// fused op where exact all equal the full matrix.
    #[test]
    fn tiles_the_explicit_product_and_the_kernel_equal_the_full_matrix() {
        let dev = Default::default();
        let (b, kv, g, d) = (2, 2, 3, 8);
        let r = |h, l| Tensor::<Cpu, 4>::random([b, h, l, d], Distribution::Normal(0.0, 1.0), &dev);
        for scale in [0.3, (d as f32).powf(-0.5)] {
            for (lq, lk, mask) in [
                (45, 45, Mask::None),
                (45, 45, Mask::Causal { offset: 0 }),
                (7, 45, Mask::Causal { offset: 38 }),
                (1, 45, Mask::Causal { offset: 44 }),
            ] {
                let (q, k, v) = (r(kv * g, lq), r(kv, lk), r(kv, lk));
                let offset = match mask {
                    Mask::None => None,
                    Mask::Causal { offset } => Some(offset),
                };
                let want = naive(q.clone(), k.clone(), v.clone(), offset, scale).into_data();
                let tol = Tolerance::absolute(1e-5);
                for block in [16, 64] {
                    attention(q.clone(), k.clone(), v.clone(), mask, scale, block)
                        .into_data()
                        .assert_approx_eq::<f32>(&want, tol);
                }
                Cpu::softmax_attention(q.clone(), k.clone(), v.clone(), mask, scale, 16)
                    .into_data()
                    .assert_approx_eq::<f32>(&want, tol);
                let (qc, kc, vc) = (q.clone(), k.clone(), v.clone());
                fused_within(qc, kc, vc, mask, scale, 16, FUSED_SCORES_MAX_BYTES)
                    .into_data()
                    .assert_approx_eq::<f32>(&want, tol);
                // Over a small bound: the tiles, one tile of every key (the encoder's ask)
                // halved until a tile's scores fit.
                let (qc, kc, vc) = (q.clone(), k.clone(), v.clone());
                fused_within(qc, kc, vc, mask, scale, lk, 4 * 24 * 24 * 4)
                    .into_data()
                    .assert_approx_eq::<f32>(&want, tol);
                fused_where_exact(q, k, v, mask, scale, 16)
                    .into_data()
                    .assert_approx_eq::<f32>(&want, tol);
            }
        }
    }

    /// Only the fused op's own `1/√d` (to an ulp, however it is computed) is passed to it as
    /// its default; any other scale would make burn-cubecl run its naive form.
    #[test]
    fn the_default_scale_is_recognised_to_an_ulp() {
        for d in [8, 32, 64, 72, 80, 128] {
            assert!(is_default_scale((d as f32).powf(-0.5), d), "{d}");
            assert!(is_default_scale(1.0 / (d as f32).sqrt(), d), "{d}");
            assert!(is_default_scale((1.0 / (d as f64).sqrt()) as f32, d), "{d}");
            assert!(!is_default_scale(1.01 / (d as f32).sqrt(), d), "{d}");
        }
    }

    /// The separable products equal the flex kernel's one pass (uneven cells).
    #[test]
    fn cell_means_equal_the_kernel() {
        let dev = Default::default();
        let cells = Cells {
            frames: 2,
            h: 7,
            w: 5,
            sh: 3,
            sw: 2,
        };
        let x = Tensor::<Cpu, 3>::random([2, 2 * 7 * 5, 6], Distribution::Default, &dev);
        cell_means(x.clone(), cells)
            .into_data()
            .assert_approx_eq::<f32>(
                &Cpu::cell_means(x, cells).into_data(),
                Tolerance::absolute(1e-5),
            );
    }
}
