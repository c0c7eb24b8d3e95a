//! `hico train`: owned by issue 7, not built yet.

use anyhow::{Result, bail};

use crate::backend::DeviceArg;

/// Arguments of `hico train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input file.
    pub input: Option<std::path::PathBuf>,
}

/// Run `hico train`.
pub fn run(_args: Args, _device: DeviceArg) -> Result<()> {
    bail!("`hico train` is not implemented yet (issue 7)")
}
