//! Errors of training: each names the file, the sample or the step it is about.

use std::path::PathBuf;

/// Anything that can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A stage or pipeline config could not be read or is invalid.
    #[error(transparent)]
    Config(#[from] hico_core::ConfigError),
    /// An annotation file is malformed.
    #[error("{path}: sample {index}: {message}")]
    Data {
        /// The annotation file.
        path: PathBuf,
        /// 0-based index of the sample in the file.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A checkpoint is missing a part or could not be decoded.
    #[error("checkpoint {path}: {message}")]
    Checkpoint {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The loss became NaN or infinite. The last good checkpoint is left in place.
    #[error(
        "non-finite loss {loss} at step {step} on sample {sample}; last good checkpoint: {last_checkpoint}"
    )]
    NonFinite {
        /// 1-based optimizer step being computed.
        step: usize,
        /// The sample (index in the annotation file and its media path).
        sample: String,
        /// The loss value.
        loss: f32,
        /// The last checkpoint written before the failure (or "none").
        last_checkpoint: String,
    },
    /// Building or running the model failed.
    #[error("{0}")]
    Model(String),
    /// Data-parallel training stopped: a replica failed, or the collective all-reduce did.
    #[error("data parallel: {0}")]
    Replica(String),
    /// A contract violated at run time (no sample readable, nothing to train...).
    #[error("{0}")]
    Invalid(String),
}

/// Wrap an I/O error with its path.
pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> TrainError {
    let path = path.into();
    move |source| TrainError::Io { path, source }
}
