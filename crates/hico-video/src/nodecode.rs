//! Stand-ins for builds without the `ffmpeg` feature (e.g. a CUDA binary carried to a GPU
//! machine that has no FFmpeg libraries): the API is the same, and opening a video fails
//! with an error that names the file and the missing feature. Everything that does not
//! decode (samplers, prompts, tensors, synthetic videos through the `ffmpeg` CLI) works.

use std::path::{Path, PathBuf};

use hico_core::VideoInfo;

use crate::{Frames, Strategy, VideoError};

/// Largest accepted frame side in pixels.
pub const MAX_SIDE: u32 = 8192;

fn no_decoder(path: &Path) -> VideoError {
    VideoError::Open {
        path: path.to_path_buf(),
        message: "this hico was built without video decoding (cargo feature `ffmpeg` of \
                  hico-video, `video` of hico); rebuild with default features"
            .into(),
    }
}

/// Always an error naming `path`: no decoder is compiled in.
pub fn probe(path: &Path) -> Result<VideoInfo, VideoError> {
    Err(no_decoder(path))
}

/// Always an error naming `path`: no decoder is compiled in.
pub fn decode_all(path: &Path, _size: usize) -> Result<Frames, VideoError> {
    Err(no_decoder(path))
}

/// Always an error naming `path`: no decoder is compiled in.
pub fn decode_image(
    path: &Path,
    _size: usize,
    _resize: hico_core::config::ResizeKind,
) -> Result<Frames, VideoError> {
    Err(no_decoder(path))
}

/// A reader that can never be opened in this build.
pub struct FrameReader {
    path: PathBuf,
    info: VideoInfo,
    /// Frames decoded so far (always 0 here).
    pub decoded: usize,
    /// Seeks performed so far (always 0 here).
    pub seeks: usize,
}

impl FrameReader {
    /// Always an error naming `path`: no decoder is compiled in.
    pub fn open(path: &Path) -> Result<Self, VideoError> {
        Err(no_decoder(path))
    }
    /// Facts of the video.
    pub fn info(&self) -> &VideoInfo {
        &self.info
    }
    /// Ignored.
    pub fn set_strategy(&mut self, _strategy: Strategy) {}
    /// Ignored.
    pub fn set_resize(&mut self, _resize: hico_core::config::ResizeKind) {}
    /// Always an error.
    pub fn read(&mut self, _indices: &[usize], _size: usize) -> Result<Frames, VideoError> {
        Err(no_decoder(&self.path))
    }
}
