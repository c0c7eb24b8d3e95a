//! Errors of token compression: each names the method, the input or the parameter at fault.

use thiserror::Error;

/// What can go wrong when a method runs or its files are read.
#[derive(Debug, Error)]
pub enum CompressError {
    /// The input tensors do not fit the method (wrong rank, a grid that is not square, a
    /// missing `query` or `attention`).
    #[error("{method}: {msg}")]
    Input {
        /// The method's `kind`.
        method: &'static str,
        /// What is wrong, naming the tensor.
        msg: String,
    },
    /// A parameter the official code could not run with.
    #[error("{method}: parameter `{param}`: {msg}")]
    Param {
        /// The method's `kind`.
        method: &'static str,
        /// The parameter, as the official code names it.
        param: &'static str,
        /// What was expected.
        msg: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {msg}")]
    File {
        /// The file.
        path: String,
        /// What went wrong.
        msg: String,
    },
    /// A `[compressor]` table that does not parse.
    #[error("{path}: {msg}")]
    Config {
        /// The file.
        path: String,
        /// The parse error, naming the key.
        msg: String,
    },
}

/// Shorthand for this crate's results.
pub type Result<T> = std::result::Result<T, CompressError>;
