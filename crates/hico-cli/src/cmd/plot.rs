//! `hico plot RUN_DIR`: draw every plot a run or ablation directory allows into
//! `RUN_DIR/plots/` (the layout is documented in the `hico-viz` crate header).

use anyhow::{Context, Result};

/// Arguments of `hico plot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run directory (`retention.json`, `provenance.json`, optional `attention.json`) or
    /// an ablation directory (`results.csv`, `cells/*/`, optional `niah.csv`).
    pub run_dir: std::path::PathBuf,
}

/// Run `hico plot`: prints each file written.
pub fn run(args: Args) -> Result<()> {
    let files = hico_viz::plot_run_dir(&args.run_dir)
        .with_context(|| format!("plotting {}", args.run_dir.display()))?;
    let mut files = files;
    files.extend(super::examples::draw_examples(
        &super::examples::first_model_dir(&args.run_dir),
        &args.run_dir,
    )?);
    for f in &files {
        println!("{}", f.display());
    }
    eprintln!("wrote {} plot files", files.len());
    Ok(())
}
