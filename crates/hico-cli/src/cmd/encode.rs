//! `hico encode`: owned by issue 5, not built yet.

use anyhow::{Result, bail};

use crate::backend::DeviceArg;

/// Arguments of `hico encode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input file.
    pub input: Option<std::path::PathBuf>,
}

/// Run `hico encode`.
pub fn run(_args: Args, _device: DeviceArg) -> Result<()> {
    bail!("`hico encode` is not implemented yet (issue 5)")
}
