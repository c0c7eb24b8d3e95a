//! Streamed video encoding holds one batch of clips at a time: what the encoder and
//! compressor allocate beyond the visual tokens they return does not grow with the number
//! of frames. Measured with the counting allocator of `hico_backend::mem` (exact heap bytes).

use std::path::Path;

use burn::tensor::{Distribution, Tensor};
use hico_backend::mem::{self, Tracking};
use hico_backend::{Cpu, cpu_device};
use hico_core::{FramePlan, VideoInfo};
use hico_model::Pipeline;

#[global_allocator]
static ALLOC: Tracking = Tracking;

/// Encode `n` random frames through the tiny pipeline; returns (peak heap bytes above the
/// start minus twice the output's bytes, the output's bytes). Twice: the per-batch token
/// blocks and their concatenation are both alive for a moment at the end.
fn encode(p: &Pipeline<Cpu>, n: usize) -> (usize, usize) {
    let fps = 1.0;
    let info = VideoInfo {
        n_frames: n,
        fps,
        duration: n as f64 / fps,
        width: 64,
        height: 64,
    };
    let plan = FramePlan {
        indices: (0..n).collect(),
        timestamps: (0..n).map(|i| i as f64 / fps).collect(),
        duration: info.duration,
    };
    let size = p.cfg.video.size;
    let base = mem::reset();
    let out = p
        .encode_frames(info, plan, None, |idx| {
            Ok(Tensor::<Cpu, 4>::random(
                [idx.len(), 3, size, size],
                Distribution::Default,
                &p.device,
            ))
        })
        .unwrap();
    let s = mem::stats();
    let out_bytes = out.embeds.dims().iter().product::<usize>() * 4;
    (s.peak_above(&base).saturating_sub(2 * out_bytes), out_bytes)
}

#[test]
fn streamed_encoding_memory_does_not_grow_with_frames() {
    assert!(mem::tracking(), "the counting allocator is not installed");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tiny.toml");
    let p = Pipeline::<Cpu>::new(hico_model::load_config(&path).unwrap(), &cpu_device()).unwrap();
    encode(&p, 16); // one-time set-up out of the figures
    let (short, long) = (64, 1024);
    let (work_s, out_s) = encode(&p, short);
    let (work_l, out_l) = encode(&p, long);
    eprintln!(
        "working memory {work_s} B at {short} frames, {work_l} B at {long} frames \
         (outputs {out_s} / {out_l} B)"
    );
    // 16× the frames: streaming keeps the working set flat; holding every frame's pixels
    // or encoder tokens would make it grow ~16×.
    assert!(
        work_l < 2 * work_s,
        "encoding {long} frames needed {work_l} bytes beyond its output, {short} frames {work_s}"
    );
}
