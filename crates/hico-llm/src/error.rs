//! The errors of hico-llm: each names the file, tensor or key at fault.

use std::path::PathBuf;

/// A tensor whose shape differs from what the config implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// Checkpoint key.
    pub name: String,
    /// Shape the config implies.
    pub expected: Vec<usize>,
    /// Shape found in the file.
    pub found: Vec<usize>,
}

fn list_mismatches(m: &[ShapeMismatch]) -> String {
    m.iter()
        .map(|s| {
            format!(
                "{} (expected {:?}, found {:?})",
                s.name, s.expected, s.found
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Errors of loading, saving and running the language model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `config.json` (or the shard index) is not valid.
    #[error("{path}: invalid model config: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong (serde's message names the missing or mistyped field).
        message: String,
    },
    /// A safetensors file could not be parsed.
    #[error("{path}: invalid safetensors: {message}")]
    Safetensors {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// A tensor has a dtype hico cannot load (bf16, f16 and f32 are supported).
    #[error("{path}: tensor {name} has unsupported dtype {dtype} (supported: BF16, F16, F32)")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// Checkpoint key.
        name: String,
        /// The dtype found.
        dtype: String,
    },
    /// The checkpoint's tensors do not match the config.
    #[error(
        "{dir}: checkpoint does not match config: missing [{}]; unexpected [{}]; mis-shaped [{}]",
        missing.join(", "), unexpected.join(", "), list_mismatches(mismatched)
    )]
    Tensors {
        /// The model directory.
        dir: PathBuf,
        /// Keys the model needs that no file holds.
        missing: Vec<String>,
        /// Keys in the files the model does not use.
        unexpected: Vec<String>,
        /// Keys whose shape is wrong.
        mismatched: Vec<ShapeMismatch>,
    },
    /// The tokenizer could not be loaded.
    #[error("{path}: tokenizer: {message}")]
    Tokenizer {
        /// The file (or `byte_level` for the built-in one).
        path: PathBuf,
        /// The cause.
        message: String,
    },
}
