//! The errors of hico-llm: each names the file, tensor or key at fault.

use std::path::PathBuf;

use hico_weights::WeightError;

/// Errors of loading, saving and running the language model.
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// `config.json` is not valid.
    #[error("{path}: invalid model config: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong (serde's message names the missing or mistyped field).
        message: String,
    },
    /// `config.json` asks for something hico does not implement.
    #[error("{path}: {key} `{value}` is not supported (supported: {supported})")]
    Unsupported {
        /// The file (or the config section, for a pipeline config).
        path: PathBuf,
        /// The key.
        key: String,
        /// Its value.
        value: String,
        /// What hico supports there.
        supported: String,
    },
    /// Reading or writing the weights failed, or they do not match the config (every
    /// missing, unexpected and mis-shaped tensor at once).
    #[error(transparent)]
    Weights(#[from] WeightError),
    /// The tokenizer could not be loaded.
    #[error("{path}: tokenizer: {message}")]
    Tokenizer {
        /// The file (or `byte_level` for the built-in one).
        path: PathBuf,
        /// The cause.
        message: String,
    },
    /// Logits were asked for an input position the drop plan removed.
    #[error("input position {position} was dropped by the LLM; its logits do not exist")]
    Dropped {
        /// The input position.
        position: usize,
    },
}
