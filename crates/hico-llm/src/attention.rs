//! Causal softmax attention that never holds an L×L score matrix: queries are processed in
//! blocks of `block` rows and keys in blocks of `block` columns with an online softmax
//! (running max and normaliser, as in FlashAttention). Peak extra memory per call is
//! `heads × block × block` scores plus `heads × block × head_dim` accumulators, whatever L
//! is; `block` is the model's [`AttentionOptions::block`] (`[llm] attention_block`).
//!
//! Grouped-query attention is computed without repeating key/value heads: the `n_rep` query
//! heads that share a key head are stacked as extra query rows of that key head, so keys and
//! values are read in their cached `[1, kv_heads, L, d]` layout (no `heads/kv_heads`-times
//! larger copy per layer).

use hico_core::backend::{AttentionImpl, DEFAULT_ATTENTION_BLOCK, attention_block, attention_impl};
use hico_core::kernels::{attention::Mask, flex as kernel};

use burn::tensor::{
    Bool, Int, Tensor, backend::Backend, module::attention as fused, ops::AttentionModuleOptions,
};

/// Default query and key block size.
pub const BLOCK: usize = DEFAULT_ATTENTION_BLOCK;

/// How a model computes attention at inference: the `[llm]` keys `attention` and
/// `attention_block` (recorded in every run's `config.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttentionOptions {
    /// hico's tiled attention or burn's fused op (see [`decoder_attention`]).
    pub implementation: AttentionImpl,
    /// Queries and keys per tile of hico's own attention: scratch memory is
    /// `heads × block²` scores whatever the length.
    pub block: usize,
}

impl Default for AttentionOptions {
    /// hico's own attention in tiles of [`BLOCK`].
    fn default() -> Self {
        Self {
            implementation: AttentionImpl::Own,
            block: BLOCK,
        }
    }
}

impl AttentionOptions {
    /// The options of a config without these keys: `HICO_ATTENTION` and
    /// `HICO_ATTENTION_BLOCK` when set, else the defaults (for tools that build a model
    /// without a pipeline config, such as `hico bench llm`).
    pub fn from_env() -> Self {
        Self {
            implementation: attention_impl(),
            block: attention_block(),
        }
    }
}

/// A finite stand-in for −∞ (keeps `exp(m_old − m_new)` free of NaN).
const NEG: f32 = -1.0e30;

/// Repeat key/value heads for grouped-query attention (`repeat_kv` in HF: query head `j`
/// uses key head `j / n_rep`).
///
/// # Shapes
/// - `x`: `[1, kv_heads, L, d]` → `[1, kv_heads·n_rep, L, d]`
pub fn repeat_kv<B: Backend>(x: Tensor<B, 4>, n_rep: usize) -> Tensor<B, 4> {
    if n_rep == 1 {
        return x;
    }
    let [b, kv, l, d] = x.dims();
    x.unsqueeze_dim::<5>(2)
        .expand([b, kv, n_rep, l, d])
        .reshape([b, kv * n_rep, l, d])
}

/// Causal attention for a decoder layer. With `options.implementation`:
/// - `Own` (default): hico's CPU kernel ([`hico_core::kernels::attention`]) on the flex
///   backend, plain or under autodiff (then with the kernel's own backward,
///   [`hico_core::kernels::attention_grad`]); elsewhere (GPUs) as `Composed`;
/// - `Composed`: [`causal_attention`], burn ops in tiles of `options.block`;
/// - `Fused`: the backend's fused attention op where it is exact and memory-safe, else as
///   `Composed`:
/// - the backend is not an autodiff one (burn-autodiff implements the op as the naive
///   softmax(QKᵀ)V with an L×L matrix, and has no fused backward), and
/// - it is a fresh prefill (`offset == 0`, as many queries as keys): backends differ in how
///   they align a causal mask when there are more keys than queries, and a decode step
///   would copy the whole cache to repeat its key/value heads (the fused op wants as many
///   as the query heads), which costs more than the step itself; those use the tiled path.
///
/// # Shapes
/// As [`causal_attention`].
pub fn decoder_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    offset: usize,
    options: &AttentionOptions,
) -> Tensor<B, 4> {
    let [_, heads, lq, d] = q.dims();
    let [_, kv, lk, _] = k.dims();
    if options.implementation == AttentionImpl::Own {
        let scale = 1.0 / (d as f32).sqrt();
        if let Some(o) = kernel::attention(&q, &k, &v, Mask::Causal { offset }, scale) {
            return o;
        }
    }
    let fused_ok = options.implementation == AttentionImpl::Fused
        && !B::ad_enabled(&q.device())
        && offset == 0
        && lq == lk
        && lq > 1;
    if !fused_ok {
        return causal_attention(q, k, v, offset, options.block);
    }
    let rep = heads / kv;
    let options = AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal: true,
    };
    fused(q, repeat_kv(k, rep), repeat_kv(v, rep), None, None, options)
}

/// Causal mask block for `groups` stacked copies of query rows `q0..q0+nq`: true (masked)
/// where key index `>` query index; `[groups·nq, nk]`. Built on the device from two index
/// ranges (no host-side matrix to upload for every diagonal tile).
fn mask<B: Backend>(
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

/// Causal attention of `q` over `k`, `v` in tiles of `block` queries × `block` keys; query
/// row `i` sits at key index `offset + i`.
///
/// # Shapes
/// - `q`: `[1, heads, Lq, d]`, `k`, `v`: `[1, kv_heads, Lk, d]` with `heads` a multiple of
///   `kv_heads` (query head `j` uses key head `j / (heads / kv_heads)`, as HF's `repeat_kv`),
///   `offset + Lq <= Lk`; keys past `offset + Lq` are never read (a decode step passes the
///   whole preallocated cache)
/// - returns `[1, heads, Lq, d]`
pub fn causal_attention<B: Backend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    offset: usize,
    block: usize,
) -> Tensor<B, 4> {
    let [_, heads, lq, d] = q.dims();
    let [_, h, lk, _] = k.dims();
    assert!(
        heads % h == 0,
        "{heads} query heads over {h} key/value heads"
    );
    let g = heads / h; // query heads per key head, stacked as rows
    let device = q.device();
    let scale = 1.0 / (d as f64).sqrt();
    let block = block.max(1);
    let mut outs = Vec::new();
    for q0 in (0..lq).step_by(block) {
        let nq = block.min(lq - q0);
        // [1, heads, nq, d] → [1, kv_heads, g·nq, d]: row r·nq + i is query i of head r.
        let qb = q
            .clone()
            .slice([0..1, 0..heads, q0..q0 + nq, 0..d])
            .mul_scalar(scale)
            .reshape([1, h, g * nq, d]);
        let rows = g * nq;
        let last_key = (offset + q0 + nq).min(lk); // keys beyond are masked for every row
        let mut m: Tensor<B, 4> = Tensor::full([1, h, rows, 1], NEG, &device);
        let mut l: Tensor<B, 4> = Tensor::zeros([1, h, rows, 1], &device);
        let mut acc: Tensor<B, 4> = Tensor::zeros([1, h, rows, d], &device);
        for k0 in (0..last_key).step_by(block) {
            let nk = block.min(last_key - k0);
            let kb = k.clone().slice([0..1, 0..h, k0..k0 + nk, 0..d]);
            let vb = v.clone().slice([0..1, 0..h, k0..k0 + nk, 0..d]);
            let mut s = qb.clone().matmul(kb.swap_dims(2, 3)); // [1, h, rows, nk]
            if k0 + nk > offset + q0 + 1 {
                let mk = mask::<B>(offset + q0, nq, k0, nk, g, &device)
                    .unsqueeze::<4>()
                    .expand([1, h, rows, nk]);
                s = s.mask_fill(mk, NEG);
            }
            let m_new = m.clone().max_pair(s.clone().max_dim(3));
            let p = (s - m_new.clone()).exp();
            let corr = (m - m_new.clone()).exp();
            l = l * corr.clone() + p.clone().sum_dim(3);
            acc = acc * corr + p.matmul(vb);
            m = m_new;
        }
        outs.push((acc / l).reshape([1, heads, nq, d]));
    }
    Tensor::cat(outs, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    use burn::tensor::{Distribution, activation::softmax};
    use hico_core::backend::Cpu;

    /// Plain attention with the full matrix, for comparison.
    fn naive(
        q: Tensor<Cpu, 4>,
        k: Tensor<Cpu, 4>,
        v: Tensor<Cpu, 4>,
        offset: usize,
    ) -> Tensor<Cpu, 4> {
        let [_, h, lq, d] = q.dims();
        let lk = k.dims()[2];
        let s = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (d as f64).sqrt());
        let mk = mask::<Cpu>(offset, lq, 0, lk, 1, &Default::default())
            .unsqueeze::<4>()
            .expand([1, h, lq, lk]);
        softmax(s.mask_fill(mk, f32::NEG_INFINITY), 3).matmul(v)
    }

    #[test]
    fn blocked_equals_naive_across_block_edges() {
        let dev = Default::default();
        let (h, lk, d) = (2, BLOCK + 37, 8);
        let r = |l| Tensor::<Cpu, 4>::random([1, h, l, d], Distribution::Normal(0.0, 1.0), &dev);
        let (k, v) = (r(lk), r(lk));
        for lq in [lk, 1, 40] {
            let q = r(lq);
            let got = causal_attention(q.clone(), k.clone(), v.clone(), lk - lq, BLOCK);
            let want = naive(q, k.clone(), v.clone(), lk - lq);
            got.into_data().assert_approx_eq::<f32>(
                &want.into_data(),
                burn::tensor::Tolerance::absolute(1e-5),
            );
        }
    }

    #[test]
    fn grouped_query_heads_equal_repeated_kv() {
        let dev = Default::default();
        let (kv, g, lk, d) = (2, 3, BLOCK + 21, 8);
        let r = |h, l| Tensor::<Cpu, 4>::random([1, h, l, d], Distribution::Normal(0.0, 1.0), &dev);
        let (k, v) = (r(kv, lk), r(kv, lk));
        for lq in [lk, 1, 200] {
            let q = r(kv * g, lq);
            let got = causal_attention(q.clone(), k.clone(), v.clone(), lk - lq, BLOCK);
            let want = naive(q, repeat_kv(k.clone(), g), repeat_kv(v.clone(), g), lk - lq);
            got.into_data().assert_approx_eq::<f32>(
                &want.into_data(),
                burn::tensor::Tolerance::absolute(1e-5),
            );
        }
    }

    #[test]
    fn decoder_attention_in_every_form_and_the_fused_op_equal_naive() {
        let dev = Default::default();
        let (kv, g, d) = (2, 3, 8);
        let r = |h, l| Tensor::<Cpu, 4>::random([1, h, l, d], Distribution::Normal(0.0, 1.0), &dev);
        // 700 × 700 > 256K scores: the CPU backend's flash-style loop; 100: its direct path.
        for lk in [100, 700] {
            let (k, v) = (r(kv, lk), r(kv, lk));
            for lq in [lk, 1, 37] {
                let q = r(kv * g, lq);
                let (kr, vr) = (repeat_kv(k.clone(), g), repeat_kv(v.clone(), g));
                let want = naive(q.clone(), kr.clone(), vr.clone(), lk - lq);
                // `own` (the CPU kernel on flex), `composed` (burn ops in tiles).
                for implementation in [AttentionImpl::Own, AttentionImpl::Composed] {
                    let got = decoder_attention(
                        q.clone(),
                        k.clone(),
                        v.clone(),
                        lk - lq,
                        &AttentionOptions {
                            implementation,
                            block: BLOCK,
                        },
                    );
                    got.into_data().assert_approx_eq::<f32>(
                        &want.clone().into_data(),
                        burn::tensor::Tolerance::absolute(1e-5),
                    );
                }
                if lq != lk {
                    continue;
                }
                // The fused op as `attention = "fused"` calls it.
                let opts = AttentionModuleOptions {
                    scale: None,
                    softcap: None,
                    is_causal: true,
                };
                let got = fused(q, kr, vr, None, None, opts);
                got.into_data().assert_approx_eq::<f32>(
                    &want.into_data(),
                    burn::tensor::Tolerance::absolute(1e-5),
                );
            }
        }
    }
}
