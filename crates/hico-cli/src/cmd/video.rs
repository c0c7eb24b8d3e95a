//! `hico video probe|sample|synth`: owned by issue 3, not built yet.

use anyhow::{Result, bail};

/// `hico video` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print duration, frame rate, frame count and size of a video.
    Probe {
        /// The video file.
        file: std::path::PathBuf,
    },
}

/// Run `hico video`.
pub fn run(_c: Command) -> Result<()> {
    bail!("`hico video` is not implemented yet (issue 3)")
}
