//! Errors of the core crate: mostly configuration errors, which must name the file, the
//! key and what was expected.

use std::path::PathBuf;

/// A configuration file could not be read or did not match the schema.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read at all.
    #[error("cannot read config {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the schema.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Human-readable message naming the key and what was expected.
        message: String,
    },
    /// The file parsed but a value is out of range or inconsistent.
    #[error("{path}: invalid value for `{key}`: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Dotted key path, e.g. `dropout.ratios`.
        key: String,
        /// What is wrong and what was expected.
        message: String,
    },
}

/// Errors shared by the pipeline stages.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A configuration error.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A value that violates a stage's contract (wrong shape, empty input...).
    #[error("{0}")]
    Invalid(String),
    /// An I/O error on a named path.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// An output folder is locked by another run ([`crate::lock::DirLock`]).
    #[error(
        "{dir} is in use by {holder}: wait for that run to end or choose another output folder"
    )]
    Locked {
        /// The folder.
        dir: PathBuf,
        /// Who holds it (`pid N on host H (command)`).
        holder: String,
    },
    /// JSON (de)serialisation of an output file failed.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde error.
        source: serde_json::Error,
    },
}
