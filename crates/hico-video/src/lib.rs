//! hico-video: the video input of the pipeline.
//!
//! - [`probe`] / [`FrameReader`]: decode real files (mp4/H.264, webm/VP9, mkv, avi/mpeg4) with
//!   FFmpeg through `ffmpeg-next`; exact frames by index, resized without crop (bicubic) to
//!   `size × size` RGB.
//! - [`build_sampler`]: the `duration` (paper), `uniform`, `fps` and `dynamic_fps` (the
//!   release's `chat()`) samplers behind [`hico_core::Sampler`].
//! - [`PilBicubic`]: Pillow's `BICUBIC` resize, bit for bit (the release's preprocessing;
//!   `[video] resize = "pil_bicubic"`).
//! - [`frames_to_tensor`]: normalised `[T, 3, size, size]` tensors for the vision encoder
//!   ([`frames_to_tensor_as`]: rounded to f16 / bf16, as a release's `chat()` does).
//! - [`timestamp_prompt`]: the sentence after the video placeholder.
//! - [`synth`] + [`font`]: procedural test videos with known content and needles.

mod batch;
mod error;
pub mod font;
#[cfg(not(feature = "ffmpeg"))]
mod nodecode;
#[cfg(feature = "ffmpeg")]
mod probe;
mod prompt;
#[cfg(feature = "ffmpeg")]
mod reader;
mod resize;
mod sampler;
mod strategy;
pub mod synth;
mod tensor;

pub use batch::{BatchReport, probe_many};
pub use error::VideoError;
pub use hico_core::{FramePlan, VideoInfo};
#[cfg(not(feature = "ffmpeg"))]
pub use nodecode::{FrameReader, MAX_SIDE, decode_all, decode_image, probe};
#[cfg(feature = "ffmpeg")]
pub use probe::{MAX_SIDE, probe};
pub use prompt::timestamp_prompt;
#[cfg(feature = "ffmpeg")]
pub use reader::{FrameReader, decode_all, decode_image};
pub use resize::{PassOrder, PilBicubic, pil_bicubic};
pub use sampler::{
    DurationSampler, DynamicFpsSampler, FpsSampler, UniformSampler, build_sampler, segment_middles,
};
pub use strategy::Strategy;
pub use tensor::{frames_to_tensor, frames_to_tensor_as, normalise_byte};

/// RGB frames resized without crop to `size × size`, row-major, 3 bytes per pixel,
/// frame after frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frames {
    /// Side in pixels.
    pub size: usize,
    /// Number of frames.
    pub count: usize,
    /// `count · size · size · 3` bytes.
    pub data: Vec<u8>,
}

impl Frames {
    /// The bytes of frame `k`.
    pub fn frame(&self, k: usize) -> &[u8] {
        let n = 3 * self.size * self.size;
        &self.data[k * n..(k + 1) * n]
    }

    /// Save frame `k` as an 8-bit RGB PNG.
    pub fn save_png(&self, k: usize, path: &std::path::Path) -> Result<(), VideoError> {
        let io = |e: &dyn std::fmt::Display| VideoError::Io {
            path: path.to_path_buf(),
            message: format!("cannot write PNG: {e}"),
        };
        let file = std::fs::File::create(path).map_err(|e| io(&e))?;
        let mut enc = png::Encoder::new(
            std::io::BufWriter::new(file),
            self.size as u32,
            self.size as u32,
        );
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().map_err(|e| io(&e))?;
        w.write_image_data(self.frame(k)).map_err(|e| io(&e))?;
        w.finish().map_err(|e| io(&e))
    }
}
