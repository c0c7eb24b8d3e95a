//! `hico run`: answer a question about a video (pipeline wired in hico-model).

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::backend::DeviceArg;

/// Arguments of `hico run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Pipeline config (TOML).
    #[arg(long)]
    pub config: PathBuf,
    /// The video file.
    #[arg(long)]
    pub video: PathBuf,
    /// The question.
    #[arg(long)]
    pub question: String,
    /// Output directory for the resolved config, traces and summary.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Run `hico run`.
pub fn run(_args: Args, _device: DeviceArg) -> Result<()> {
    bail!("`hico run` is being wired (issue 2)")
}
