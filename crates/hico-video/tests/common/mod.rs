//! Helpers shared by the integration tests: make small videos with the ffmpeg CLI.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use hico_video::synth::{Codec, SynthSpec, write_video};

/// Write a synthetic video of `n` frames, `size` px, keyframe interval `gop`.
pub fn synth(dir: &Path, name: &str, n: usize, size: usize, gop: usize, codec: Codec) -> PathBuf {
    let mut spec = SynthSpec::new(n, 25.0, size);
    spec.gop = gop;
    spec.codec = codec;
    let path = dir.join(format!("{name}.{}", codec.extension()));
    write_video(&spec, &path).expect("synthetic video");
    path
}

/// Run the ffmpeg CLI with `args`, panicking with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error"])
        .args(args)
        .output()
        .expect("ffmpeg CLI");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
