//! Long prefills hold memory linear in the sequence length: no L×L score matrix (nor a
//! row-block × L strip) is ever allocated, and peak heap above the weights grows about as L.
//! Measured with the counting allocator of `hico_backend::mem` (exact heap bytes, not timings).

use burn::tensor::{Distribution, Tensor};
use hico_backend::mem::{self, Tracking};
use hico_backend::{Cpu, cpu_device};
use hico_core::{DropPlan, DropStage, KeepRule, LanguageModel, PositionMode, PrefillInput};
use hico_llm::{CausalLm, LlmSpec};

#[global_allocator]
static ALLOC: Tracking = Tracking;

const HIDDEN: usize = 64;
const HEADS: usize = 4;

fn model() -> CausalLm<Cpu> {
    // 4 query heads over 2 key/value heads (GQA), 2 layers, head dim 16.
    let spec = LlmSpec::tiny("qwen2", 256, HIDDEN, 128, 2, HEADS, 2).unwrap();
    CausalLm::random(&spec, &cpu_device())
}

/// Prefill `l` random embeddings (the last `l - 8` of them visual, optionally dropped to a
/// quarter after layer 1); returns (peak heap bytes above the start, largest allocation).
fn prefill(m: &CausalLm<Cpu>, l: usize, with_drop: bool) -> (usize, usize) {
    let embeds = Tensor::<Cpu, 3>::random([1, l, HIDDEN], Distribution::Default, &m.device());
    let plan = if with_drop {
        DropPlan {
            stages: vec![DropStage {
                after_layer: 1,
                keep: (l - 8) / 4,
                rule: KeepRule::Attention,
            }],
            positions: PositionMode::Keep,
            fusion: None,
        }
    } else {
        DropPlan::default()
    };
    let input = PrefillInput {
        embeds,
        visual_start: 4,
        visual_len: l - 8,
        plan,
        queries: vec![l - 1],
        capture_layers: vec![1],
        frames: None,
        kv_cache: Default::default(),
    };
    let base = mem::reset();
    let (out, cache) = m.prefill(input);
    let s = mem::stats();
    assert!(out.last_logits.to_data().to_vec::<f32>().unwrap()[0].is_finite());
    drop(cache);
    (s.peak_above(&base), s.largest)
}

#[test]
fn long_prefill_memory_is_linear_in_length() {
    assert!(mem::tracking(), "the counting allocator is not installed");
    let m = model();
    prefill(&m, 64, true); // one-time set-up (thread pool, caches) out of the figures
    for drop in [false, true] {
        let block = m.attention.block;
        // Long enough for several attention tiles.
        let long = 4096.max(16 * block);
        let short = long / 4;
        let (peak_s, _) = prefill(&m, short, drop);
        let (peak_l, largest_l) = prefill(&m, long, drop);
        let square = long * long * 4; // one head's f32 score matrix
        let strip = HEADS * block * long * 4; // one block of queries × all keys
        eprintln!(
            "drop={drop}: peak {peak_s} B at L={short}, {peak_l} B at L={long} \
             (ratio {:.2}); largest block {largest_l} B (L×L would be {square} B)",
            peak_l as f64 / peak_s as f64
        );
        assert!(
            largest_l < strip / 2,
            "drop={drop}: a {largest_l}-byte block was allocated at L={long}: an L-wide strip \
             or an L×L matrix ({strip} / {square} bytes)"
        );
        // 4× the tokens: linear memory gives ~4× the peak, an L² term ~16×.
        assert!(
            peak_l < 6 * peak_s,
            "drop={drop}: peak heap grew {peak_s} → {peak_l} bytes for 4× the tokens"
        );
    }
}
