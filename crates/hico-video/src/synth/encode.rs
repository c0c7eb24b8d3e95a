//! The one writer of encoded files: [`Codec`]s, their encoder settings, and
//! [`encode_rgb`], which encodes in-process with FFmpeg's libraries when the `ffmpeg`
//! feature is on (see `inproc.rs`) and otherwise pipes raw RGB to the `ffmpeg` CLI
//! ([`encode_rgb_cli`]). Both write to a hidden temporary file next to `path` and rename it
//! into place only once the container is complete.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::{Deserialize, Serialize};

use crate::VideoError;

/// Video codec and container of the written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// H.264 (libx264) in mp4.
    #[default]
    H264,
    /// VP9 (libvpx) in webm.
    Vp9,
    /// MPEG-4 part 2 in avi.
    Mpeg4,
    /// Lossless H.264 (`-qp 0`, 4:4:4 chroma, so thin coloured text survives) in mp4.
    H264Lossless,
}

/// How a [`Codec`] is encoded: the same settings drive the CLI and the in-process encoder.
pub(super) struct Settings {
    /// FFmpeg encoder name (`-c:v`).
    pub encoder: &'static str,
    /// Encoder AVOptions (`-key value` on the command line).
    pub options: &'static [(&'static str, &'static str)],
    /// Fixed quantiser (`-q:v`): `AV_CODEC_FLAG_QSCALE` with `global_quality = q · FF_QP2LAMBDA`.
    pub qscale: Option<i32>,
}

impl Codec {
    /// Encoder, options and fixed quantiser.
    pub(super) fn settings(self) -> Settings {
        let (encoder, options, qscale): (_, &'static [(&str, &str)], _) = match self {
            Codec::H264 => ("libx264", &[("preset", "ultrafast"), ("bf", "2")], None),
            Codec::Vp9 => (
                "libvpx-vp9",
                &[("deadline", "realtime"), ("cpu-used", "8")],
                None,
            ),
            Codec::Mpeg4 => ("mpeg4", &[], Some(4)),
            Codec::H264Lossless => ("libx264", &[("preset", "ultrafast"), ("qp", "0")], None),
        };
        Settings {
            encoder,
            options,
            qscale,
        }
    }
    /// Pixel format of the encoded stream.
    pub(super) fn pix_fmt(self) -> &'static str {
        match self {
            Codec::H264Lossless => "yuv444p",
            _ => "yuv420p",
        }
    }
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Codec::H264 | Codec::H264Lossless => "mp4",
            Codec::Vp9 => "webm",
            Codec::Mpeg4 => "avi",
        }
    }
}

/// Encode `n_frames` RGB frames of `size = (width, height)` (`frame(i)` gives frame `i`,
/// `3 · width · height` bytes, owned or borrowed) into `path` at `fps` with `codec`; `gop`:
/// keyframe interval (else the encoder's default). The container follows `path`'s
/// extension; frame `i` is stamped `i / fps`.
///
/// With the `ffmpeg` feature (the default) this runs in-process through FFmpeg's libraries
/// (microseconds per small video instead of an `ffmpeg` process start each), with the CLI's
/// settings for every codec (see [`Codec`]) except that each encoder runs on one thread
/// (callers encode several videos in parallel); FFmpeg's log stays silent and errors carry
/// FFmpeg's message. Without the feature it is [`encode_rgb_cli`]. Either way the file is
/// written under a hidden temporary name next to `path` and renamed to `path` when
/// complete, so a failure never leaves a partial file there. Safe to call from several
/// threads at once.
pub fn encode_rgb<F: AsRef<[u8]>>(
    path: &Path,
    size: (usize, usize),
    fps: f64,
    codec: Codec,
    gop: Option<usize>,
    n_frames: usize,
    frame: impl FnMut(usize) -> F,
) -> Result<(), VideoError> {
    #[cfg(feature = "ffmpeg")]
    {
        write_via_temp(path, |tmp| {
            super::inproc::encode(tmp, size, fps, codec, gop, n_frames, frame)
        })
    }
    #[cfg(not(feature = "ffmpeg"))]
    {
        encode_rgb_cli(path, size, fps, codec, gop, n_frames, frame)
    }
}

/// [`encode_rgb`] by piping the frames to the `ffmpeg` CLI (`-loglevel error`, `-r fps`,
/// [`Codec`]'s encoder options, `-g gop`, `-pix_fmt`), one process per video. What
/// [`encode_rgb`] does without the `ffmpeg` feature; kept public to compare the two
/// writers. Errors carry ffmpeg's own message.
pub fn encode_rgb_cli<F: AsRef<[u8]>>(
    path: &Path,
    (width, height): (usize, usize),
    fps: f64,
    codec: Codec,
    gop: Option<usize>,
    n_frames: usize,
    mut frame: impl FnMut(usize) -> F,
) -> Result<(), VideoError> {
    write_via_temp(path, |tmp| {
        let settings = codec.settings();
        let mut cmd = Command::new("ffmpeg");
        cmd.args(["-y", "-loglevel", "error", "-f", "rawvideo"])
            .args(["-pix_fmt", "rgb24", "-s", &format!("{width}x{height}")])
            .args(["-r", &format!("{fps}"), "-i", "-"])
            .args(["-c:v", settings.encoder]);
        for (key, value) in settings.options {
            cmd.args([&format!("-{key}"), *value]);
        }
        if let Some(q) = settings.qscale {
            cmd.args(["-q:v", &q.to_string()]);
        }
        if let Some(g) = gop {
            cmd.args(["-g", &g.max(1).to_string()]);
        }
        let mut child = cmd
            .args(["-pix_fmt", codec.pix_fmt()])
            .arg(tmp)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run the ffmpeg CLI (is it installed?): {e}"))?;
        let mut stdin = child.stdin.take().expect("piped stdin");
        for i in 0..n_frames {
            let frame = frame(i);
            let bytes = frame.as_ref();
            if bytes.len() != 3 * width * height {
                drop(stdin);
                let _ = child.kill();
                let _ = child.wait();
                return Err(frame_size_error(i, bytes.len(), (width, height)));
            }
            if let Err(e) = stdin.write_all(bytes) {
                drop(stdin);
                let out = child.wait_with_output().map_err(|e| e.to_string())?;
                return Err(format!(
                    "ffmpeg stopped reading at frame {i} ({e}): {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
        }
        drop(stdin);
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!(
                "ffmpeg failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(())
    })
}

/// The message for a frame of the wrong byte count.
pub(super) fn frame_size_error(i: usize, len: usize, (width, height): (usize, usize)) -> String {
    format!("frame {i} has {len} bytes, not 3 × {width} × {height}")
}

/// Run `write(tmp)` on a fresh hidden name next to `path` that keeps its extension (the
/// container is chosen from it), then rename it to `path`; on any failure remove it and
/// return the message as an error naming `path`.
fn write_via_temp(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), String>,
) -> Result<(), VideoError> {
    let io = |message: String| VideoError::Io {
        path: path.to_path_buf(),
        message,
    };
    let tmp = temp_name(path).ok_or_else(|| io("not a file path".into()))?;
    let result = write(&tmp).and_then(|()| {
        std::fs::rename(&tmp, path)
            .map_err(|e| format!("cannot rename {} into place: {e}", tmp.display()))
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(io)
}

/// `dir/.NAME.PID-N.tmp.EXT` for `dir/NAME.EXT` (unique within and across processes).
fn temp_name(path: &Path) -> Option<PathBuf> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path.file_name()?.to_string_lossy();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    let tmp = match path.extension() {
        Some(ext) => format!(".{name}.{pid}-{n}.tmp.{}", ext.to_string_lossy()),
        None => format!(".{name}.{pid}-{n}.tmp"),
    };
    Some(path.with_file_name(tmp))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_name_keeps_the_extension_and_is_unique() {
        let a = temp_name("d/x.mp4".as_ref()).unwrap();
        let b = temp_name("d/x.mp4".as_ref()).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.parent(), Some(Path::new("d")));
        assert_eq!(a.extension().unwrap(), "mp4");
        assert!(
            a.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(".x.mp4.")
        );
        assert!(temp_name("/".as_ref()).is_none());
    }
}
