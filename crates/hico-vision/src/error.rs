//! Errors of the vision crate: every message names the file and the tensor at fault.

use std::path::PathBuf;

/// What can go wrong loading or running the vision side.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    /// The checkpoint file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        /// The file.
        file: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid safetensors.
    #[error("{file}: not a safetensors file: {msg}")]
    Format {
        /// The file.
        file: PathBuf,
        /// What the parser said.
        msg: String,
    },
    /// No key prefix in the file holds the encoder (looked for `*patch_embed.proj.weight`).
    #[error("{file}: no UMT encoder found (no key ending in `patch_embed.proj.weight`)")]
    NoEncoder {
        /// The file.
        file: PathBuf,
    },
    /// A tensor the encoder needs is absent.
    #[error("{file}: missing tensor `{key}` (expected shape {expected:?})")]
    Missing {
        /// The file.
        file: PathBuf,
        /// The full key.
        key: String,
        /// The shape the encoder expects.
        expected: Vec<usize>,
    },
    /// A tensor has the wrong shape.
    #[error("{file}: tensor `{key}` has shape {found:?}, expected {expected:?}")]
    Shape {
        /// The file.
        file: PathBuf,
        /// The full key.
        key: String,
        /// The shape the encoder expects.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// A tensor has a dtype we cannot read.
    #[error("{file}: tensor `{key}` has unsupported dtype {dtype} (want F32, F16 or BF16)")]
    Dtype {
        /// The file.
        file: PathBuf,
        /// The full key.
        key: String,
        /// The dtype in the file.
        dtype: String,
    },
    /// Tensors under the encoder's prefix that the encoder does not know.
    #[error("{file}: unexpected encoder tensors: {keys:?}")]
    Unexpected {
        /// The file.
        file: PathBuf,
        /// The unknown keys (with their shapes).
        keys: Vec<String>,
    },
}
