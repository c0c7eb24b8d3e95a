//! Benchmark (not a test): sample 16, 64 and 256 frames (segment middles) from a 2-minute
//! 720p H.264 file and time `FrameReader::open` + `read` at 224 px, median of 3 runs.
//!
//! Custom harness (`harness = false`), so it needs no extra crate: the work is one call
//! into FFmpeg per configuration and its wall time is what we compare with decord/PyAV
//! (`benches/bench_video.py` runs this binary and both Python loaders in one go).
//!
//! Arguments: `--video PATH` (default: made with the ffmpeg CLI under the system temp
//! dir), `--dump DIR` (write `ours_{T}.rgb` and `ours.json` for frame comparison).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use hico_video::{FrameReader, probe, segment_middles};

fn make_video(path: &Path) {
    if path.exists() {
        return;
    }
    std::fs::create_dir_all(path.parent().expect("parent")).expect("bench dir");
    eprintln!(
        "making {} (2 min, 1280x720, 30 fps, H.264) ...",
        path.display()
    );
    let status = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg("testsrc2=size=1280x720:rate=30:duration=120")
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        ])
        .arg(path)
        .status()
        .expect("ffmpeg CLI");
    assert!(status.success(), "ffmpeg failed to make the bench video");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
    };
    let video = arg("--video").unwrap_or_else(|| {
        std::env::temp_dir()
            .join("hico-bench")
            .join("bench_720p.mp4")
    });
    make_video(&video);
    let dump = arg("--dump");
    let info = probe(&video).expect("probe");
    println!(
        "video {}: {} frames, {:.2} fps, {:.1} s, {}x{}",
        video.display(),
        info.n_frames,
        info.fps,
        info.duration,
        info.width,
        info.height
    );
    println!(
        "{:>6} {:>10} {:>9} {:>6}",
        "frames", "median_s", "decoded", "seeks"
    );
    let mut json = Vec::new();
    for t in [16usize, 64, 256] {
        let indices = segment_middles(info.n_frames, t);
        let mut times = Vec::new();
        let (mut decoded, mut seeks) = (0, 0);
        let mut last = None;
        for _ in 0..3 {
            let start = Instant::now();
            let mut r = FrameReader::open(&video).expect("open");
            let frames = r.read(&indices, 224).expect("read");
            times.push(start.elapsed().as_secs_f64());
            (decoded, seeks) = (r.decoded, r.seeks);
            last = Some(frames);
        }
        times.sort_by(f64::total_cmp);
        let median = times[1];
        println!("{t:>6} {median:>10.4} {decoded:>9} {seeks:>6}");
        if let (Some(dir), Some(frames)) = (&dump, last) {
            std::fs::create_dir_all(dir).expect("dump dir");
            std::fs::write(dir.join(format!("ours_{t}.rgb")), &frames.data).expect("dump");
        }
        json.push(format!(
            "{{\"frames\": {t}, \"n_frames\": {}, \"seconds\": {median}, \"decoded\": {decoded}, \"seeks\": {seeks}, \"indices\": {indices:?}}}",
            info.n_frames
        ));
    }
    if let Some(dir) = dump {
        std::fs::write(dir.join("ours.json"), format!("[{}]", json.join(", "))).expect("dump");
    }
}
