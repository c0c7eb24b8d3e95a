//! Errors of benchmark construction, scoring and the ablation runner. Every message names
//! the file, key or sample concerned.

use std::path::PathBuf;

/// What can go wrong in hico-eval.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A JSON file did not parse or could not be written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde error.
        source: serde_json::Error,
    },
    /// A config or experiment file is wrong; the message names the key.
    #[error(transparent)]
    Config(#[from] hico_core::ConfigError),
    /// A benchmark or experiment spec is inconsistent (e.g. too many needles for the
    /// haystack); the message names the key.
    #[error("{path}: invalid `{key}`: {message}")]
    Spec {
        /// The file (or `<spec>` for specs built in code).
        path: PathBuf,
        /// Dotted key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The external `ffmpeg` encoder failed.
    #[error("writing {path} with ffmpeg: {message}")]
    Ffmpeg {
        /// The video being written.
        path: PathBuf,
        /// stderr of ffmpeg, or why it could not start.
        message: String,
    },
    /// More questions were unreadable than `max_skipped` allows.
    #[error(
        "{skipped} of {total} questions skipped, more than max_skipped = {limit} (see {log}); last: {last}"
    )]
    TooManySkipped {
        /// Questions skipped so far.
        skipped: usize,
        /// Questions in the set.
        total: usize,
        /// The limit.
        limit: usize,
        /// The `skipped.jsonl` file.
        log: String,
        /// The last skipped question and why.
        last: String,
    },
    /// The model side failed on a sample.
    #[error("sample `{sample}`: {message}")]
    Model {
        /// Sample id.
        sample: String,
        /// The cause.
        message: String,
    },
}

impl EvalError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

/// Write `value` as pretty JSON to `path`.
pub fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<(), EvalError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| EvalError::Json {
        path: path.into(),
        source,
    })?;
    std::fs::write(path, text).map_err(EvalError::io(path))
}

/// Read JSON from `path` into `T`.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T, EvalError> {
    let text = std::fs::read_to_string(path).map_err(EvalError::io(path))?;
    serde_json::from_str(&text).map_err(|source| EvalError::Json {
        path: path.into(),
        source,
    })
}
