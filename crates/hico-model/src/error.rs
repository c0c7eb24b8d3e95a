//! Errors of the composed model: each wraps a component's error, which names the culprit.

/// Anything that can go wrong building or running a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] hico_core::ConfigError),
    /// Shared stage error.
    #[error(transparent)]
    Core(#[from] hico_core::CoreError),
    /// Video decoding or sampling.
    #[error(transparent)]
    Video(#[from] hico_video::VideoError),
    /// Vision encoder loading.
    #[error(transparent)]
    Vision(#[from] hico_vision::VisionError),
    /// Language model or tokenizer.
    #[error(transparent)]
    Llm(#[from] hico_llm::LlmError),
    /// A release checkpoint could not be read or does not match the model (every missing,
    /// unexpected and mis-shaped tensor of the three parts listed).
    #[error(transparent)]
    Weights(#[from] hico_weights::WeightError),
    /// A whole-video compression method refused its input or parameters.
    #[error(transparent)]
    Compress(#[from] hico_compress::CompressError),
    /// Writing outputs.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A contract violated at run time (empty video plan, prompt too long...).
    #[error("{0}")]
    Invalid(String),
}
