//! How a reader reaches its targets (see `FrameReader::set_strategy`).

/// How [`FrameReader::read`](crate::FrameReader::read) reaches its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// Per target, whichever of seeking and decoding forward decodes fewer frames.
    #[default]
    Auto,
    /// Always seek to the keyframe before each target not already reached.
    Seek,
    /// Never seek forward: decode every frame from the current position.
    Sequential,
}
