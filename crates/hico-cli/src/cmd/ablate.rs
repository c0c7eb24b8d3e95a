//! `hico ablate`: owned by issue 8, not built yet.

use anyhow::{Result, bail};

use crate::backend::DeviceArg;

/// Arguments of `hico ablate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Input file.
    pub input: Option<std::path::PathBuf>,
}

/// Run `hico ablate`.
pub fn run(_args: Args, _device: DeviceArg) -> Result<()> {
    bail!("`hico ablate` is not implemented yet (issue 8)")
}
