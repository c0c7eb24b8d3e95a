//! Each method's own cost (its decisions plus applying the plan on the CPU), at its default
//! parameters, by default on the visual block of a 16-frame video at 224 px seen as frames of
//! 14 × 14 tokens of Qwen2.5-0.5B's width (896), with a 16-token question and encoder
//! attention for the methods that read them. Median of 3 after one warm-up; one JSON line per
//! method with milliseconds and milliseconds per 1,000 input tokens (docs/compression.md).
//!
//! `cargo bench -p hico-compress --bench methods [-- T N C]`; `benches/compress_cost.py` sets
//! each method beside the prefill time it saves.

use std::time::Instant;

use hico_compress::{Input, Method};

fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..3)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[1]
}

/// A deterministic pseudo-random block with a static background (most tokens repeat the
/// previous frame's), as video features have.
fn block(t: usize, n: usize, c: usize) -> Vec<f32> {
    let mut rng = hico_compress::util::SplitMix64::new(7);
    let mut unit = move || (rng.next_u64() >> 11) as f32 / (1u64 << 53) as f32 - 0.5;
    let mut x = vec![0f32; t * n * c];
    for f in 0..t {
        for p in 0..n {
            let moving = p % 5 < 2;
            for k in 0..c {
                let i = (f * n + p) * c + k;
                x[i] = if f > 0 && !moving {
                    x[i - n * c] + 0.01 * unit()
                } else {
                    unit()
                };
            }
        }
    }
    x
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (t, n, c) = match args.as_slice() {
        [t, n, c, ..] => (*t, *n, *c),
        _ => (16, 196, 896),
    };
    let tokens = block(t, n, c);
    let query: Vec<f32> = block(1, 16, c);
    let attention: Vec<f32> = (0..t * n)
        .map(|i| ((i * 7919) % 997) as f32 / 997.0)
        .collect();
    let mut x = Input::new(&tokens, t, n, c).expect("shape");
    x.query = Some((&query, 16));
    x.attention = Some(&attention);
    let only: Vec<String> = std::env::var("HICO_COMPRESS_ONLY")
        .map(|v| v.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    for kind in Method::KINDS {
        if !only.is_empty() && !only.iter().any(|o| o == kind) {
            continue;
        }
        let method: Method = toml::from_str(&format!("kind = \"{kind}\"")).expect("defaults");
        let mut kept = 0;
        let ms = median_ms(|| {
            let plan = method.plan(&x).expect("plan");
            kept = plan.len();
            std::hint::black_box(plan.apply(&x));
        });
        println!(
            "{{\"kind\":\"{kind}\",\"t\":{t},\"n\":{n},\"c\":{c},\"tokens_in\":{},\"tokens_out\":{kept},\"ms\":{ms:.3},\"ms_per_1k_tokens\":{:.4}}}",
            t * n,
            ms / (t * n) as f64 * 1e3
        );
    }
}
