//! CPU bench of the vision side, per clip of 4 frames at 224 px (14 × 14 patches) and
//! 448 px (28 × 28): the encoder (a reduced width, see `ENC`; UMT-L itself is too slow for
//! 2 cores) and every compressor at the UMT-L width 1024, plus `pool_dense` (pool's dense
//! algorithm before issue #17, for a before / after in one run). Median of `REPS` runs.
//! Writes `target/hico-vision-bench.json`; `benches/vision_bench_torch.py` runs the same
//! work in PyTorch on the same inputs and prints the ratios.
//!
//! Run: `cargo bench -p hico-vision` (env `HICO_BENCH_REPS` to change the repetitions,
//! `HICO_BENCH_PX` to run one size only, `HICO_BENCH_ONLY=encoder` to skip the compressors).

use std::time::Instant;

use burn::tensor::{Tensor, TensorData};
use hico_backend::{Cpu, cpu_device};
use hico_core::config::{CompressorConfig, VisionConfig};
use hico_core::{PatchGrid, VisionEncoder};
use hico_vision::compressor::{Pool, mean_of_groups};
use hico_vision::{UmtEncoder, build_compressor};

/// Encoder config of the bench: width 256, 4 blocks, 4 heads (head dim 64 as UMT-L).
const ENC: (usize, usize, usize) = (256, 4, 4);
/// Compressor input width (UMT-L).
const WIDTH: usize = 1024;

/// The LCG of the bench inputs (mirrored in `benches/vision_bench_torch.py`).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f(); // warm-up
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn main() {
    hico_backend::mem::keep_freed_memory();
    // Timed where hico's runs call them: on a worker of rayon's pool (`on_worker`).
    hico_backend::on_worker(run);
}

fn run() {
    let reps: usize = std::env::var("HICO_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let dev = cpu_device();
    let cfg = VisionConfig {
        width: ENC.0,
        depth: ENC.1,
        heads: ENC.2,
        mlp_ratio: 4.0,
        patch_size: 16,
        output_blocks: 0,
        ln_eps: 1e-6,
        pos_grid: 14,
        checkpoint: None,
    };
    let enc = UmtEncoder::<Cpu>::new(&cfg, &dev);
    let kinds = [
        CompressorConfig::Identity,
        CompressorConfig::Tome {
            tokens_per_frame: 16,
        },
        CompressorConfig::TomeOrdered {
            tokens_per_frame: 16,
        },
        CompressorConfig::Pool {
            tokens_per_frame: 16,
        },
        CompressorConfig::Temporal {
            tokens_per_frame: 16,
            threshold: 0.9,
        },
    ];
    let mut rows = Vec::new();
    println!("{:<14} {:>5} {:>12}", "stage", "px", "hico ms/clip");
    // `HICO_BENCH_PX=224` limits the run to one size (e.g. for a profile of the encoder).
    let sizes: Vec<usize> = match std::env::var("HICO_BENCH_PX") {
        Ok(s) => vec![s.parse().expect("HICO_BENCH_PX: a pixel size such as 224")],
        Err(_) => vec![224, 448],
    };
    for px in sizes {
        let pixels = noise(4 * 3 * px * px, 1);
        let clip = Tensor::<Cpu, 5>::from_data(TensorData::new(pixels, [1, 4, 3, px, px]), &dev);
        let ms = median_ms(reps, || {
            let _ = enc.encode(clip.clone()).into_data();
        });
        println!("{:<14} {px:>5} {ms:>12.2}", "encoder");
        rows.push(format!("{{\"stage\":\"encoder\",\"px\":{px},\"ms\":{ms}}}"));

        let grid = PatchGrid {
            frames: 4,
            h: px / 16,
            w: px / 16,
        };
        let n = grid.per_clip();
        let tokens =
            Tensor::<Cpu, 3>::from_data(TensorData::new(noise(n * WIDTH, 2), [1, n, WIDTH]), &dev);
        // `HICO_BENCH_ONLY=encoder` skips the compressors (a profile of the encoder alone).
        let encoder_only = std::env::var("HICO_BENCH_ONLY").is_ok_and(|s| s == "encoder");
        for kind in kinds.iter().filter(|_| !encoder_only) {
            let comp = build_compressor::<Cpu>(kind, 16);
            let ms = median_ms(reps, || {
                let _ = comp.compress(tokens.clone(), &grid).features.into_data();
            });
            println!("{:<14} {px:>5} {ms:>12.2}", kind.kind());
            rows.push(format!(
                "{{\"stage\":\"{}\",\"px\":{px},\"ms\":{ms}}}",
                kind.kind()
            ));
        }
        if encoder_only {
            continue;
        }
        // The pool algorithm before issue #17 (one dense [L·s·s, L·h·w] averaging matrix),
        // kept as a row so that before / after come from one run.
        let groups = vec![Pool::new(16).groups(&grid)];
        let ms = median_ms(reps, || {
            let _ = mean_of_groups(tokens.clone(), &groups).into_data();
        });
        println!("{:<14} {px:>5} {ms:>12.2}", "pool_dense");
        rows.push(format!(
            "{{\"stage\":\"pool_dense\",\"px\":{px},\"ms\":{ms}}}"
        ));
    }
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/hico-vision-bench.json");
    std::fs::write(&out, format!("[{}]\n", rows.join(",\n"))).expect("write bench json");
    println!("wrote {}", out.display());
}
