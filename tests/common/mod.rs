//! Helpers shared by the end-to-end tests of the binary: run `hico`, check its exit status,
//! make test videos with the ffmpeg CLI.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// The `hico` binary under test.
pub fn hico() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hico"))
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Stdout of a run that must have succeeded (the message shows both streams otherwise).
pub fn ok(res: &Output) -> String {
    let stdout = String::from_utf8_lossy(&res.stdout).to_string();
    assert!(
        res.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    stdout
}

/// Stderr of a run that must have failed.
pub fn failed(res: &Output) -> String {
    assert!(!res.status.success(), "expected a failure");
    String::from_utf8_lossy(&res.stderr).to_string()
}

/// Run the ffmpeg CLI on a lavfi source: `ffmpeg -f lavfi -i ARGS... OUT`.
pub fn ffmpeg(args: &[&str], out: &Path) {
    let status = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i"])
        .args(args)
        .arg(out)
        .status()
        .expect("ffmpeg CLI is installed (scripts/setup.sh)");
    assert!(status.success(), "ffmpeg {args:?} {}", out.display());
}

/// A 10 s 160×120 10 fps H.264 test pattern.
pub fn make_video(path: &Path) {
    ffmpeg(
        &[
            "testsrc2=size=160x120:rate=10:duration=10",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "12",
        ],
        path,
    );
}
