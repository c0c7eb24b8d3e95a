//! Causal attention alone, at the shapes of docs/performance.md's prefill rows: hico's CPU
//! kernel (`Flex::attention`, what `attention = "own"` runs on flex), the same algorithm
//! composed of burn ops (`"composed"`, `hico_backend::composed::attention`, measured in
//! hico-llm's bench), and
//! burn-flex's fused op (`"fused"`). `benches/torch_attention_bench.py` times PyTorch's SDPA
//! on the same shapes. Median of 5 after one warm-up, milliseconds, one JSON line per row.
//!
//! `cargo bench -p hico-backend --bench attention`

use std::time::Instant;

use burn::tensor::{Distribution, Tensor, module::attention as fused, ops::AttentionModuleOptions};
use hico_backend::{Cpu, HicoBackend, Mask};

fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[2]
}

fn main() {
    hico_backend::mem::keep_freed_memory();
    // Timed where hico's runs call them: on a worker of rayon's pool (`on_worker`).
    hico_backend::on_worker(run);
}

fn run() {
    let dev = Default::default();
    // (name, query heads, key/value heads, head dim): hico bench llm's shapes.
    for (shape, heads, kv, d) in [("small", 4, 2, 64), ("qwen2_5_0_5b", 14, 2, 64)] {
        for l in [512usize, 2048, 8192] {
            if shape != "small" && l > 2048 {
                continue;
            }
            // Stored as the projections leave them, [1, L, H, d], viewed [1, H, L, d].
            let r = |h| {
                Tensor::<Cpu, 4>::random([1, l, h, d], Distribution::Normal(0.0, 1.0), &dev)
                    .swap_dims(1, 2)
            };
            let (q, k, v) = (r(heads), r(kv), r(kv));
            let scale = 1.0 / (d as f32).sqrt();
            let kernel = median_ms(|| {
                let (q, k, v) = (q.clone(), k.clone(), v.clone());
                let o = Cpu::softmax_attention(q, k, v, Mask::Causal { offset: 0 }, scale, l);
                let _ = o.into_data();
            });
            let rep = heads / kv;
            let expand = |x: &Tensor<Cpu, 4>| {
                x.clone()
                    .unsqueeze_dim::<5>(2)
                    .expand([1, kv, rep, l, d])
                    .reshape([1, heads, l, d])
            };
            let opts = AttentionModuleOptions {
                scale: None,
                softcap: None,
                is_causal: true,
            };
            let burn_fused = median_ms(|| {
                let o = fused(q.clone(), expand(&k), expand(&v), None, None, opts);
                let _ = o.into_data();
            });
            println!(
                "{{\"shape\":\"{shape}\",\"tokens\":{l},\"heads\":{heads},\"kv_heads\":{kv},\"head_dim\":{d},\"kernel_ms\":{kernel:.2},\"burn_fused_ms\":{burn_fused:.2}}}"
            );
        }
    }
}
