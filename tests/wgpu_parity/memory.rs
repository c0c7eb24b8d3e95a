//! Long-video memory growth on the device: prefill of a visual block of L tokens (uniform
//! drop after layer 1, as the long-video schedules), then one decode step, for growing L,
//! reading cubecl's memory pool of the wgpu device (bytes reserved from the device after a
//! cleanup, which holds the run's high-water mark, and bytes still in use). The claim is
//! the one the CPU suites make for the host heap: no buffer grows with L², so memory grows
//! about linearly with the tokens (the KV cache, the residual stream); for `composed`
//! (tiles everywhere) and `own` (burn's fused op within a bound, tiles beyond it).

use burn::tensor::{Tensor, TensorData, backend::Backend};
use cubecl::Runtime;
use hico_core::config::AttentionImpl;
use hico_core::{DropPlan, DropStage, KeepRule, LanguageModel, PositionMode, PrefillInput};
use hico_llm::{CausalLm, ids_tensor};

use super::common::{Gpu, gpu, model, values};

/// (bytes reserved by the pool, bytes in use) of the wgpu device.
fn pool() -> (u64, u64) {
    let u = burn::backend::wgpu::WgpuRuntime::client(&gpu())
        .memory_usage()
        .expect("memory usage of the wgpu device");
    (u.bytes_reserved, u.bytes_in_use)
}

/// (bytes reserved, bytes in use with the KV cache alive) after one prefill + decode of
/// `l` visual tokens, the pool cleaned before.
fn run(m: &CausalLm<Gpu>, l: usize) -> (u64, u64) {
    let dev = gpu();
    let _ = Gpu::sync(&dev);
    Gpu::memory_cleanup(&dev);
    let (before, _) = pool();
    let vis: Vec<f32> = (0..l * 32)
        .map(|i| ((i * 7919) % 2001) as f32 / 2000.0 - 0.5)
        .collect();
    let embeds = Tensor::cat(
        vec![
            m.embed(ids_tensor(&[1, 5, 9], &dev)),
            Tensor::from_data(TensorData::new(vis, [1, l, 32]), &dev),
            m.embed(ids_tensor(&[77, 3], &dev)),
        ],
        1,
    );
    let input = PrefillInput {
        embeds,
        visual_start: 3,
        visual_len: l,
        plan: DropPlan {
            stages: vec![DropStage {
                after_layer: 1,
                keep: l / 4,
                rule: KeepRule::Uniform,
            }],
            positions: PositionMode::Renumber,
            fusion: None,
        },
        queries: vec![l + 4],
        capture_layers: vec![],
        frames: None,
        kv_cache: Default::default(),
    };
    let (out, mut cache) = m.prefill(input);
    let logits = values(out.last_logits);
    let step = values(m.decode_step(11, &mut cache));
    assert!(
        logits.iter().chain(&step).all(|x| x.is_finite()),
        "{l} tokens: non-finite logits"
    );
    let _ = Gpu::sync(&dev);
    let (reserved, in_use) = pool();
    drop(cache);
    println!(
        "wgpu-parity memory {l} visual tokens: pool reserved {:.1} MiB (+{:.1} MiB over the run), in use {:.1} MiB",
        reserved as f64 / 1048576.0,
        reserved.saturating_sub(before) as f64 / 1048576.0,
        in_use as f64 / 1048576.0
    );
    (reserved, in_use)
}

#[test]
fn device_memory_grows_linearly_with_the_tokens() {
    for imp in [
        AttentionImpl::Composed,
        AttentionImpl::Own,
        AttentionImpl::Fused,
    ] {
        let m: CausalLm<Gpu> = model("gqa", imp, &gpu());
        let lens = [1024, 2048, 4096];
        let (peaks, in_use): (Vec<u64>, Vec<u64>) = lens.iter().map(|&l| run(&m, l)).unzip();
        // One layer's scores of the whole sequence (4 heads × L² f32) at the longest length:
        // hico's tiles never hold it; the pool must stay well below it.
        let l = *lens.last().unwrap() as u64 + 5;
        let full_scores = 4 * l * l * 4;
        println!(
            "wgpu-parity memory {imp:?}: reserved {peaks:?}, in use {in_use:?} bytes for \
             {lens:?} tokens; one L×L score tensor is {full_scores} bytes"
        );
        // What stays in use (the KV cache) grows linearly: 2,048 more tokens add about
        // twice what 1,024 more did (a quadratic term would make it 6×).
        let (a, b) = (in_use[1] - in_use[0], in_use[2] - in_use[1]);
        assert!(b <= 3 * a && b >= a, "{imp:?}: in use {in_use:?}");
        let top = peaks[2];
        match imp {
            // hico's tiles never hold one L×L tensor: the whole run's high-water mark stays
            // far below one.
            AttentionImpl::Composed => assert!(
                top < full_scores / 8,
                "{imp:?}: {top} bytes reserved at {l} tokens"
            ),
            // `own` runs burn's fused op only where its naive form holds at most
            // FUSED_SCORES_MAX_BYTES of scores, the tiles beyond: the longest run never
            // reserves one L×L tensor (what is reserved is pool pages and autotune's
            // candidates at the short lengths, the same at every L).
            AttentionImpl::Own => assert!(
                top < full_scores,
                "{imp:?}: {top} bytes reserved at {l} tokens"
            ),
            // burn's op unbounded: measured, not asserted (its autotune benchmarks the
            // naive form for up to 4,096 queries, docs/gpu.md).
            AttentionImpl::Fused => {}
        }
    }
}
