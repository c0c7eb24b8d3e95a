//! `[llm] attention` and `[llm] attention_block`: which attention inference runs, and the
//! tile size of the composed form; their defaults come from the environment.

/// Which attention implementation inference uses: hico's own (default), hico's own composed
/// of burn ops, or burn's fused `module::attention` op where it is exact. The LLM takes it
/// from its config (`[llm] attention`, recorded in every run's `config.json`), whose default
/// is the environment variable `HICO_ATTENTION` ([`attention_impl`]); the vision encoder
/// follows the same key (`Pipeline::with_model` passes it to `UmtEncoder::with_attention`).
///
/// hico's own is the backend's `HicoBackend::attention` (crate `hico-backend`): on burn's
/// plain `flex` CPU backend the kernel of `hico_kernels::attention` (tiled online softmax,
/// strided inputs, grouped-query heads in place, SIMD exp), on the cubecl backends (cuda,
/// wgpu) burn's fused op where it is exact, elsewhere the same algorithm composed of burn
/// ops (`composed`: tiled online-softmax attention with no L×L buffer; the vision encoder's
/// explicit `softmax(q·kᵀ)·v`, one tile). `composed` forces the burn-op form on the CPU too
/// (the form before the kernel, kept for comparisons). burn's fused op is a flash-style
/// loop on the CPU backend (measured slower than hico's own there, docs/performance.md) and
/// an autotuned flash kernel on burn-cuda built with `autotune` (`scripts/gpu-check.sh`
/// runs both). Training on `Autodiff<flex>` uses the kernel too, as one autodiff op with its
/// own FlashAttention-2-style backward (`hico_kernels::attention_grad`); autodiff on
/// other backends uses the composed form (burn-autodiff implements the fused op as the
/// naive L×L product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionImpl {
    #[default]
    /// hico's own: the CPU kernel on `flex`, burn ops elsewhere (`HICO_ATTENTION` unset or
    /// `own`).
    Own,
    /// hico's own algorithm composed of burn ops on every backend (`HICO_ATTENTION=composed`).
    Composed,
    /// burn's fused op (`HICO_ATTENTION=fused`).
    Fused,
}

/// The attention implementation chosen by `HICO_ATTENTION` (`own`, `composed` or `fused`; anything else
/// is reported once on stderr and treated as `own`): the default of `[llm] attention` for
/// configs that do not set it (the resolved value is recorded in every run's config.json).
pub fn attention_impl() -> AttentionImpl {
    static CHOICE: std::sync::OnceLock<AttentionImpl> = std::sync::OnceLock::new();
    *CHOICE.get_or_init(|| match std::env::var("HICO_ATTENTION").as_deref() {
        Ok("fused") => AttentionImpl::Fused,
        Ok("composed") => AttentionImpl::Composed,
        Ok("own") | Err(_) => AttentionImpl::Own,
        Ok(other) => {
            eprintln!(
                "HICO_ATTENTION={other:?}: expected `own`, `composed` or `fused`; using `own`"
            );
            AttentionImpl::Own
        }
    })
}

/// Default tile size of hico's own attention (queries and keys per block).
pub const DEFAULT_ATTENTION_BLOCK: usize = 256;

/// Tile size of hico's own attention from the environment variable `HICO_ATTENTION_BLOCK`
/// (read once; default [`DEFAULT_ATTENTION_BLOCK`]): the default of `[llm] attention_block`
/// for configs that do not set it. A tile holds `heads × block²` scores whatever
/// the sequence length, and a prefill of L tokens runs about `(L / block)² / 2` tiles per
/// layer: larger tiles mean fewer, larger kernels (what a GPU wants on long prefills), at
/// `heads × block² × 4` bytes of scratch (12 heads at 1,024: 48 MiB). Values outside
/// 16..=8192 are reported once on stderr and the default is used.
pub fn attention_block() -> usize {
    static BLOCK: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *BLOCK.get_or_init(|| {
        let Ok(text) = std::env::var("HICO_ATTENTION_BLOCK") else {
            return DEFAULT_ATTENTION_BLOCK;
        };
        match text.parse::<usize>() {
            Ok(b) if (16..=8192).contains(&b) => b,
            _ => {
                eprintln!(
                    "HICO_ATTENTION_BLOCK={text:?}: expected a whole number in 16..=8192; \
                     using {DEFAULT_ATTENTION_BLOCK}"
                );
                DEFAULT_ATTENTION_BLOCK
            }
        }
    })
}
