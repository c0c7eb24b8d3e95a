//! Causal attention of a decoder layer, as `[llm] attention` chooses ([`decoder_attention`]):
//! the backend's own (`HicoBackend::softmax_attention`), the composed burn ops in tiles
//! (`hico_backend::composed::attention`: queries and keys in blocks of `block` with an
//! online softmax, never an L×L score matrix; grouped-query heads read in place), or burn's
//! fused op where it is exact.

use hico_backend::{HicoBackend, Mask, composed};
use hico_core::config::{AttentionImpl, DEFAULT_ATTENTION_BLOCK, attention_block, attention_impl};

use burn::tensor::Tensor;

pub use hico_backend::composed::repeat_kv;

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

/// Causal attention for a decoder layer. With `options.implementation`:
/// - `Own` (default): the backend's `HicoBackend::softmax_attention`: hico's CPU kernel on
///   the flex backend, plain or under autodiff (then with the kernel's own backward); on the
///   cubecl backends burn's fused op where exact; elsewhere as `Composed`;
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
/// - `q`: `[1, heads, Lq, d]`, `k`, `v`: `[1, kv_heads, Lk, d]` with `heads` a multiple of
///   `kv_heads` (query head `j` uses key head `j / (heads / kv_heads)`, as HF's `repeat_kv`),
///   `offset + Lq <= Lk`; keys past `offset + Lq` are never read (a decode step passes the
///   whole preallocated cache)
/// - returns `[1, heads, Lq, d]`
pub fn decoder_attention<B: HicoBackend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    offset: usize,
    options: &AttentionOptions,
) -> Tensor<B, 4> {
    let scale = 1.0 / (q.dims()[3] as f32).sqrt();
    let (mask, block) = (Mask::Causal { offset }, options.block);
    match options.implementation {
        AttentionImpl::Own => B::softmax_attention(q, k, v, mask, scale, block),
        AttentionImpl::Fused if !B::ad_enabled(&q.device()) => {
            composed::fused_where_exact(q, k, v, mask, scale, block)
        }
        AttentionImpl::Composed | AttentionImpl::Fused => {
            composed::attention(q, k, v, mask, scale, block)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use burn::tensor::{Distribution, activation::softmax};
    use hico_backend::Cpu;

    /// The composed tiled form as `attention = "composed"` runs it.
    fn causal_attention(
        q: Tensor<Cpu, 4>,
        k: Tensor<Cpu, 4>,
        v: Tensor<Cpu, 4>,
        offset: usize,
    ) -> Tensor<Cpu, 4> {
        let scale = 1.0 / (q.dims()[3] as f32).sqrt();
        composed::attention(q, k, v, Mask::Causal { offset }, scale, BLOCK)
    }

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
        let mk = composed::causal_mask::<Cpu>(offset, lq, 0, lk, 1, &Default::default())
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
            let got = causal_attention(q.clone(), k.clone(), v.clone(), lk - lq);
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
            let got = causal_attention(q.clone(), k.clone(), v.clone(), lk - lq);
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
                // `own` (the CPU kernel on flex), `composed` (burn ops in tiles), `fused`
                // (burn's op where exact, the tiles elsewhere).
                for implementation in [
                    AttentionImpl::Own,
                    AttentionImpl::Composed,
                    AttentionImpl::Fused,
                ] {
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
            }
        }
    }
}
