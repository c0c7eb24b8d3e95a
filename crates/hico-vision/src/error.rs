//! Errors of the vision crate: every message names the file and the tensor at fault.

use std::path::PathBuf;

use hico_weights::WeightError;

/// What can go wrong loading or running the vision side.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// Reading the checkpoint failed, or it does not match the encoder: every missing,
    /// unexpected and mis-shaped tensor is listed.
    #[error(transparent)]
    Weights(#[from] WeightError),
    /// No key prefix in the file holds the encoder (looked for `*patch_embed.proj.weight`).
    #[error("{file}: no UMT encoder found (no key ending in `patch_embed.proj.weight`)")]
    NoEncoder {
        /// The file.
        file: PathBuf,
    },
}
