//! `hico niah build|eval`: owned by issue 8, not built yet.

use anyhow::{Result, bail};

use crate::backend::DeviceArg;

/// `hico niah` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Build a needle-in-a-haystack set.
    Build {
        /// Output directory.
        out: std::path::PathBuf,
    },
    /// Evaluate a model on a set.
    Eval {
        /// Set directory.
        set: std::path::PathBuf,
    },
}

/// Run `hico niah`.
pub fn run(_c: Command, _device: DeviceArg) -> Result<()> {
    bail!("`hico niah` is not implemented yet (issue 8)")
}
