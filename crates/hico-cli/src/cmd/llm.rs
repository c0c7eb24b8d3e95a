//! `hico llm generate`: owned by issue 4, not built yet.

use anyhow::{Result, bail};

use crate::backend::DeviceArg;

/// `hico llm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate text from a prompt with a Hugging Face Qwen2 directory.
    Generate {
        /// Model directory (config.json, safetensors, tokenizer.json).
        #[arg(long)]
        model: std::path::PathBuf,
        /// The prompt.
        #[arg(long)]
        prompt: String,
    },
}

/// Run `hico llm`.
pub fn run(_c: Command, _device: DeviceArg) -> Result<()> {
    bail!("`hico llm` is not implemented yet (issue 4)")
}
