//! Write frames as an mp4 file through the `ffmpeg` command-line tool (H.264, lossless,
//! 4:4:4 chroma so thin coloured text survives), one frame per `1/fps` seconds.

use std::{
    io::Write,
    path::Path,
    process::{Command, Stdio},
};

use super::canvas::Canvas;
use crate::EvalError;

/// Encode `frames` (all the same size) into `path` at `fps` frames per second.
pub fn write_mp4(path: &Path, frames: &[Canvas], fps: f64) -> Result<(), EvalError> {
    let err = |message: String| EvalError::Ffmpeg {
        path: path.into(),
        message,
    };
    let first = frames.first().ok_or_else(|| err("no frames".into()))?;
    let (w, h) = (first.width, first.height);
    if let Some(bad) = frames.iter().position(|f| f.width != w || f.height != h) {
        return Err(err(format!("frame {bad} is not {w}x{h}")));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(EvalError::io(dir))?;
    }
    let mut child = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo"])
        .args([
            "-pix_fmt",
            "rgb24",
            "-s",
            &format!("{w}x{h}"),
            "-r",
            &fps.to_string(),
        ])
        .args([
            "-i",
            "pipe:0",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-qp",
            "0",
        ])
        .args(["-pix_fmt", "yuv444p"])
        .arg(path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot start `ffmpeg` (is it installed?): {e}")))?;
    {
        let mut stdin = child.stdin.take().expect("stdin is piped");
        for f in frames {
            stdin
                .write_all(&f.data)
                .map_err(|e| err(format!("writing frames: {e}")))?;
        }
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("waiting for ffmpeg: {e}")))?;
    if !out.status.success() {
        return Err(err(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(())
}
