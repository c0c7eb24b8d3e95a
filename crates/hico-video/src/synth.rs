//! Procedural videos with known content, encoded to real files (`yuv420p`, or 4:4:4 for
//! [`Codec::H264Lossless`]) by [`encode_rgb`]: in-process with FFmpeg's libraries when the
//! `ffmpeg` feature is on, else by piping raw RGB to the `ffmpeg` CLI.
//!
//! A haystack frame `i` has a background colour that drifts with `i` ([`background`]), a
//! small white square moving left to right, and optionally its frame number drawn with the
//! built-in [`crate::font`]. [`Needle`]s replace frames `start..end` with a big coloured
//! shape and a word. [`write_video`] returns (and [`Manifest::write_json`] saves) a
//! manifest of what is where, for needle-in-a-haystack tests.
//!
//! ```no_run
//! use hico_video::synth::{Needle, Shape, SynthSpec, write_video};
//! let mut spec = SynthSpec::new(600, 30.0, 128);
//! spec.needles.push(Needle::at_depth(0.5, 8, 600, "CAT", [255, 0, 0], Shape::Circle));
//! let manifest = write_video(&spec, "haystack.mp4".as_ref()).unwrap();
//! manifest.write_json("haystack.json".as_ref()).unwrap();
//! ```

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::VideoError;
use crate::font::{draw_text, text_height, text_width};

mod encode;
#[cfg(feature = "ffmpeg")]
mod inproc;

pub use encode::{Codec, encode_rgb, encode_rgb_cli};

/// Shape drawn by a needle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shape {
    /// A filled square covering the middle half of the frame.
    Square,
    /// A filled disc of diameter half the frame.
    Circle,
    /// A filled upward triangle.
    Triangle,
}

/// Frames `start..end` show `shape` in `color` on black, with `text` below it in white.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Needle {
    /// First frame (inclusive).
    pub start: usize,
    /// Last frame (exclusive).
    pub end: usize,
    /// Word drawn with the built-in font (upper case; may be empty).
    pub text: String,
    /// Shape colour.
    pub color: [u8; 3],
    /// Shape.
    pub shape: Shape,
}

impl Needle {
    /// A needle of `len` frames whose first frame sits at `depth ∈ [0, 1]` of an
    /// `n_frames`-frame haystack (clamped so it fits).
    pub fn at_depth(
        depth: f64,
        len: usize,
        n_frames: usize,
        text: &str,
        color: [u8; 3],
        shape: Shape,
    ) -> Self {
        let len = len.clamp(1, n_frames.max(1));
        let start = ((depth.clamp(0.0, 1.0) * n_frames as f64) as usize).min(n_frames - len);
        Self {
            start,
            end: start + len,
            text: text.to_string(),
            color,
            shape,
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SynthSpec {
    /// Frames in the video.
    pub n_frames: usize,
    /// Frame rate.
    pub fps: f64,
    /// Frame width (even, for yuv420p).
    pub width: usize,
    /// Frame height (even).
    pub height: usize,
    /// Keyframe interval in frames.
    pub gop: usize,
    /// Codec and container.
    pub codec: Codec,
    /// Draw each haystack frame's number in its top-left corner.
    pub label_frames: bool,
    /// Needles, later ones drawn over earlier ones where they overlap.
    pub needles: Vec<Needle>,
}

impl SynthSpec {
    /// A square H.264 haystack with 2-second keyframe intervals, frame labels on, no needles.
    pub fn new(n_frames: usize, fps: f64, size: usize) -> Self {
        Self {
            n_frames,
            fps,
            width: size,
            height: size,
            gop: (2.0 * fps).round().max(1.0) as usize,
            codec: Codec::H264,
            label_frames: true,
            needles: Vec::new(),
        }
    }
}

/// The background colour of haystack frame `i` (drifts slowly through hues).
pub fn background(i: usize) -> [u8; 3] {
    let t = i as f64 * 0.05;
    let c = |phase: f64| (96.0 + 64.0 * (t + phase).sin()).round() as u8;
    [c(0.0), c(2.094), c(4.189)]
}

fn fill(img: &mut [u8], w: usize, h: usize, inside: impl Fn(usize, usize) -> bool, rgb: [u8; 3]) {
    for y in 0..h {
        for x in 0..w {
            if inside(x, y) {
                img[3 * (y * w + x)..3 * (y * w + x) + 3].copy_from_slice(&rgb);
            }
        }
    }
}

/// Draw frame `i` of `spec` (RGB, `width × height × 3` bytes).
pub fn render_frame(spec: &SynthSpec, i: usize) -> Vec<u8> {
    let (w, h) = (spec.width, spec.height);
    let mut img = vec![0u8; w * h * 3];
    if let Some(n) = spec
        .needles
        .iter()
        .rev()
        .find(|n| (n.start..n.end).contains(&i))
    {
        let (cx, cy, r) = (w as f64 / 2.0, h as f64 * 0.4, w.min(h) as f64 / 4.0);
        match n.shape {
            Shape::Square => fill(
                &mut img,
                w,
                h,
                |x, y| (x as f64 - cx).abs() <= r && (y as f64 - cy).abs() <= r,
                n.color,
            ),
            Shape::Circle => fill(
                &mut img,
                w,
                h,
                |x, y| (x as f64 - cx).powi(2) + (y as f64 - cy).powi(2) <= r * r,
                n.color,
            ),
            Shape::Triangle => fill(
                &mut img,
                w,
                h,
                |x, y| {
                    let dy = y as f64 - (cy - r);
                    (0.0..=2.0 * r).contains(&dy) && (x as f64 - cx).abs() <= dy / 2.0
                },
                n.color,
            ),
        }
        let scale = (w / 8 / n.text.chars().count().max(1)).clamp(1, h / 40 + 1);
        let tx = (w as i64 - text_width(&n.text, scale) as i64) / 2;
        let ty = (h as f64 * 0.75) as i64;
        draw_text(&mut img, w, h, tx, ty, &n.text, scale, [255, 255, 255]);
        return img;
    }
    let bg = background(i);
    fill(&mut img, w, h, |_, _| true, bg);
    let s = (w.min(h) / 8).max(2);
    let x0 = (i * 3) % (w.saturating_sub(s).max(1));
    let y0 = h - 2 * s;
    fill(
        &mut img,
        w,
        h,
        |x, y| (x0..x0 + s).contains(&x) && (y0..y0 + s).contains(&y),
        [255; 3],
    );
    if spec.label_frames {
        let scale = (h / 64).max(1);
        draw_text(&mut img, w, h, 2, 2, &i.to_string(), scale, [0, 0, 0]);
        debug_assert!(text_height(scale) < h);
    }
    img
}

/// Where each needle is, in frames and seconds, plus the video's geometry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The video file written.
    pub path: PathBuf,
    /// The spec it was drawn from (needles included).
    pub spec: SynthSpec,
    /// Duration in seconds (`n_frames / fps`).
    pub duration: f64,
    /// Per needle: `(start_s, end_s)` in seconds.
    pub needle_seconds: Vec<(f64, f64)>,
}

impl Manifest {
    /// Save as pretty JSON.
    pub fn write_json(&self, path: &Path) -> Result<(), VideoError> {
        let text = serde_json::to_string_pretty(self).expect("manifest serialises");
        std::fs::write(path, text).map_err(|e| VideoError::Io {
            path: path.to_path_buf(),
            message: format!("cannot write manifest: {e}"),
        })
    }
}

/// Render `spec` and encode it to `path` with [`encode_rgb`].
pub fn write_video(spec: &SynthSpec, path: &Path) -> Result<Manifest, VideoError> {
    write_video_with(spec, path, |_| {})
}

/// [`write_video`], calling `progress(frames_done)` after each frame.
pub fn write_video_with(
    spec: &SynthSpec,
    path: &Path,
    mut progress: impl FnMut(usize),
) -> Result<Manifest, VideoError> {
    let io = |message: String| VideoError::Io {
        path: path.to_path_buf(),
        message,
    };
    if spec.width < 2 || spec.height < 2 || spec.width % 2 == 1 || spec.height % 2 == 1 {
        return Err(io(format!(
            "synthetic frame size {}x{} must be even and at least 2",
            spec.width, spec.height
        )));
    }
    if spec.n_frames == 0 || spec.fps.is_nan() || spec.fps <= 0.0 {
        return Err(io("synthetic video needs n_frames > 0 and fps > 0".into()));
    }
    encode_rgb(
        path,
        (spec.width, spec.height),
        spec.fps,
        spec.codec,
        Some(spec.gop),
        spec.n_frames,
        |i| {
            let frame = render_frame(spec, i);
            progress(i + 1);
            frame
        },
    )?;
    Ok(Manifest {
        path: path.to_path_buf(),
        spec: spec.clone(),
        duration: spec.n_frames as f64 / spec.fps,
        needle_seconds: spec
            .needles
            .iter()
            .map(|n| (n.start as f64 / spec.fps, n.end as f64 / spec.fps))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_replace_their_frames_only() {
        let mut spec = SynthSpec::new(20, 10.0, 32);
        spec.needles.push(Needle::at_depth(
            0.5,
            3,
            20,
            "A",
            [255, 0, 0],
            Shape::Square,
        ));
        assert_eq!((spec.needles[0].start, spec.needles[0].end), (10, 13));
        let centre = |img: &[u8]| img[3 * (13 * 32 + 16)..3 * (13 * 32 + 16) + 3].to_vec();
        assert_eq!(centre(&render_frame(&spec, 11)), vec![255, 0, 0]);
        assert_eq!(centre(&render_frame(&spec, 9)), background(9).to_vec());
        assert_ne!(render_frame(&spec, 3), render_frame(&spec, 4));
        // a needle deeper than the end is pulled back to fit
        let n = Needle::at_depth(1.0, 5, 20, "", [0; 3], Shape::Circle);
        assert_eq!((n.start, n.end), (15, 20));
    }
}
