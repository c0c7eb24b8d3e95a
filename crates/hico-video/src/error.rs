//! The one error type of the crate. Every message names the file and what is wrong.

use std::path::PathBuf;

/// Why a video could not be probed, decoded, sampled or written.
#[derive(Debug, thiserror::Error)]
pub enum VideoError {
    /// The path does not exist.
    #[error("{path}: no such file")]
    Missing {
        /// The file.
        path: PathBuf,
    },
    /// The path is a directory, not a video file.
    #[error("{path}: is a directory, not a video file")]
    Directory {
        /// The path.
        path: PathBuf,
    },
    /// The file has zero bytes.
    #[error("{path}: file is empty (0 bytes)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// FFmpeg could not open or parse the container.
    #[error("{path}: not a readable video container ({message})")]
    Open {
        /// The file.
        path: PathBuf,
        /// FFmpeg's message.
        message: String,
    },
    /// The container has no video stream (e.g. audio only).
    #[error("{path}: no video stream (streams: {streams})")]
    NoVideoStream {
        /// The file.
        path: PathBuf,
        /// The kinds of streams found, e.g. `audio`.
        streams: String,
    },
    /// The frame size is zero or too large to decode safely.
    #[error("{path}: frame size {width}x{height} is outside the supported range 1..={max}x{max}")]
    FrameSize {
        /// The file.
        path: PathBuf,
        /// Width in the header.
        width: u32,
        /// Height in the header.
        height: u32,
        /// Largest supported side.
        max: u32,
    },
    /// Frame rate, frame count or duration are missing or inconsistent and could not be
    /// recovered by counting packets.
    #[error("{path}: broken timing: {message}")]
    Timing {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A requested frame index is past the end of the video.
    #[error("{path}: frame {index} requested but the video has {n_frames} frames")]
    OutOfRange {
        /// The file.
        path: PathBuf,
        /// Requested index.
        index: usize,
        /// Frames in the video.
        n_frames: usize,
    },
    /// Decoding failed (corrupt or truncated data).
    #[error("{path}: decoding failed at {context}: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// Where (e.g. `frame 120`, `seek to 4.00 s`).
        context: String,
        /// FFmpeg's message.
        message: String,
    },
    /// A bad argument (e.g. output size 0, unsorted indices).
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// An I/O error on a named path (writing outputs, running the `ffmpeg` CLI).
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
}

impl VideoError {
    /// The file this error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            Self::Missing { path }
            | Self::Directory { path }
            | Self::Empty { path }
            | Self::Open { path, .. }
            | Self::NoVideoStream { path, .. }
            | Self::FrameSize { path, .. }
            | Self::Timing { path, .. }
            | Self::OutOfRange { path, .. }
            | Self::Decode { path, .. }
            | Self::Invalid { path, .. }
            | Self::Io { path, .. } => path,
        }
    }
}
