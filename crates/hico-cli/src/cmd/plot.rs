//! `hico plot RUN_DIR`: owned by issue 8, not built yet.

use anyhow::{Result, bail};

/// Arguments of `hico plot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run directory.
    pub run_dir: std::path::PathBuf,
}

/// Run `hico plot`.
pub fn run(_args: Args) -> Result<()> {
    bail!("`hico plot` is not implemented yet (issue 8)")
}
