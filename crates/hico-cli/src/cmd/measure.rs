//! Small measuring helpers shared by the `bench` and `release` subcommands: model shapes of
//! the released sizes, peak RSS and peak heap, medians, and the name of the attention that ran.

use anyhow::{Result, bail};
use hico_llm::LlmSpec;

/// HF config numbers of the released Qwen2.5 models (random weights).
pub fn shape_config(name: &str) -> Result<LlmSpec> {
    let (h, i, l, heads, kv, vocab) = match name {
        "qwen2_5_0_5b" => (896, 4864, 24, 14, 2, 151_936),
        "qwen2_5_1_5b" => (1536, 8960, 28, 12, 2, 151_936),
        "small" => (256, 1024, 4, 4, 2, 4096),
        other => bail!("unknown --shape `{other}` (expected qwen2_5_0_5b, qwen2_5_1_5b or small)"),
    };
    Ok(LlmSpec::tiny("qwen2", vocab, h, i, l, heads, kv)?)
}

/// Median of a non-empty sample.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Peak resident memory of this process in MiB (Linux `VmHWM`), if known.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Peak heap in MiB above `base` (a [`hico_backend::mem::reset`] taken before the measured work),
/// if the counting allocator is installed (the `hico` binary installs it).
pub fn peak_heap_mib(base: &hico_backend::mem::HeapStats) -> Option<f64> {
    hico_backend::mem::tracking()
        .then(|| hico_backend::mem::stats().peak_above(base) as f64 / 1_048_576.0)
}

/// Which attention ran (the `impl` field of the JSON lines): `hico` (tiled, default tiles),
/// `hico_b<N>` (tiles of N, `HICO_ATTENTION_BLOCK`), `hico_composed` (`HICO_ATTENTION=composed`)
/// or `hico_fused` (`HICO_ATTENTION=fused`).
pub(crate) fn hico_impl() -> String {
    use hico_core::config::{AttentionImpl, DEFAULT_ATTENTION_BLOCK, attention_block};
    match hico_core::config::attention_impl() {
        AttentionImpl::Own if attention_block() == DEFAULT_ATTENTION_BLOCK => "hico".into(),
        AttentionImpl::Own => format!("hico_b{}", attention_block()),
        AttentionImpl::Composed => "hico_composed".into(),
        AttentionImpl::Fused => "hico_fused".into(),
    }
}
