//! Wall time of building a NIAH set (the encoder's cost dominates at small sizes):
//! `cargo run --release -p hico-eval --example build_time -- [VIDEOS] [FRAMES] [SIZE]`
//! (defaults 600 videos of 16 frames at 64 px, 1 fps, written to a temporary directory).
//! Prints videos, seconds, videos per second and the worker count (all cores).

use std::time::Instant;

use hico_eval::bench::{BenchSpec, NiahSpec, build_set};

fn main() {
    let arg = |k: usize, default: usize| {
        std::env::args()
            .nth(k)
            .map_or(default, |s| s.parse().expect("a positive integer"))
    };
    let (videos, frames, size) = (arg(1, 600), arg(2, 16), arg(3, 64));
    let depths = vec![0.0, 0.25, 0.5, 0.75, 1.0];
    let repeats = videos.div_ceil(depths.len());
    let spec = BenchSpec::Niah(NiahSpec {
        frames: vec![frames],
        depths,
        repeats,
        size,
        fps: 1.0,
        needle_frames: 4,
        shuffle_options: true,
        seed: 1,
        haystack: Default::default(),
    });
    let dir = std::env::temp_dir().join(format!("hico-build-time-{}", std::process::id()));
    let t0 = Instant::now();
    let m = build_set(&spec, "<build_time>".as_ref(), &dir, None).expect("set builds");
    let secs = t0.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "{} videos of {frames} frames at {size} px: {secs:.2} s ({:.1} videos/s, {workers} workers)",
        m.samples.len(),
        m.samples.len() as f64 / secs
    );
}
