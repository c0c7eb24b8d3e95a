//! Errors of loading a benchmark folder.

use std::path::PathBuf;

/// What can go wrong while reading a benchmark's folder. Every variant names the file, column
/// or media path at fault.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// An annotation file (or every file of a sharded parquet split) is absent.
    #[error("{task}: annotation file {path} not found ({hint})")]
    MissingAnnotation {
        /// The task's official name.
        task: &'static str,
        /// The path (or glob) hico looked for.
        path: PathBuf,
        /// What the publishers call it / where it comes from.
        hint: &'static str,
    },
    /// A file could not be read or decoded.
    #[error("{path}: {msg}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The reader's message.
        msg: String,
    },
    /// A row lacks a column, or holds a value of the wrong type.
    #[error("{path}: row {row}: column `{column}` {problem}")]
    Column {
        /// The annotation file.
        path: PathBuf,
        /// The row's index within that file.
        row: usize,
        /// The column (field) name.
        column: String,
        /// "is missing", "is not a string", ...
        problem: String,
    },
    /// A question's video, frame folder or subtitle file is absent.
    #[error("{id}: {what} {path} not found")]
    MissingMedia {
        /// The question id.
        id: String,
        /// "video", "frame folder" or "subtitle".
        what: &'static str,
        /// The path hico looked for.
        path: PathBuf,
    },
    /// A task name that is not one of [`crate::Task::ALL`].
    #[error("unknown benchmark `{0}` (known: {known})", known = crate::Task::ALL.map(|t| t.name()).join(", "))]
    UnknownTask(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
