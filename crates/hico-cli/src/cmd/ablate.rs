//! `hico ablate EXPERIMENT.toml`: build (or reuse) the experiment's benchmark, train once
//! if it asks (cached), run every grid cell (resumable: finished cells are skipped), write
//! `results.csv`, `results.md`, `niah.csv` and the cell folders, then draw the plots. The
//! output folder is locked for the whole run (`hico_core::lock::DirLock`).

use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::{Device, backend::AutodiffBackend};
use hico_core::{config::PipelineConfig, lock::DirLock};
use hico_eval::ablate::{Experiment, ensure_trained, prepare_benchmark, run_grid};
use hico_model::Pipeline;
use indicatif::MultiProgress;

use crate::backend::{DeviceArg, Job, dispatch};

/// Arguments of `hico ablate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The experiment file (e.g. `experiments/mh_niah_tiny.toml`).
    pub experiment: PathBuf,
    /// Output folder (default: the experiment's `out`, else `runs/<name>`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run the grid on a released VideoChat-Flash model (directory or hub id in the local
    /// Hugging Face cache): sets `[model]` on the base config, whose weightless sections
    /// and the grid then override the release's.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// Run `hico ablate`.
pub fn run(args: Args, device: DeviceArg) -> Result<()> {
    let mut exp = Experiment::load(&args.experiment)?;
    if let Some(out) = args.out {
        exp.out = Some(out);
    }
    if let Some(model) = &args.model {
        exp.overrides
            .insert("model".into(), crate::cmd::source::model_table(model));
    }
    dispatch(
        device,
        AblateJob {
            exp,
            path: args.experiment,
        },
    )
}

struct AblateJob {
    exp: Experiment,
    path: PathBuf,
}

impl Job for AblateJob {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: Device<B>) -> Result<()> {
        let (exp, path) = (&self.exp, &self.path);
        let out = exp.out_dir();
        // One run per output folder: a second `hico ablate` on it stops here.
        let _lock = DirLock::acquire(&out, "hico ablate")?;
        let multi = MultiProgress::new();
        let (bench, manifest) = prepare_benchmark(exp, path, &out, &multi)?;
        eprintln!(
            "benchmark: {} questions in {}",
            manifest.samples.len(),
            bench.display()
        );
        let trained = ensure_trained::<B>(exp, path, &out, &multi, &device)?;
        if let Some(t) = &trained {
            eprintln!(
                "model: {} ({} steps on {} questions, final loss {:.4})",
                t.checkpoint.display(),
                t.steps,
                t.samples,
                t.final_loss
            );
        } else {
            eprintln!("model: random initialisation (the experiment has no [train])");
        }
        let build = |cfg: &PipelineConfig| -> Result<Pipeline<B::InnerBackend>, String> {
            match &trained {
                Some(t) => hico_train::load_trained::<B::InnerBackend>(cfg, &t.checkpoint, &device)
                    .map_err(|e| e.to_string()),
                None => Pipeline::new(cfg.clone(), &device).map_err(|e| e.to_string()),
            }
        };
        // Cells scored with another model (e.g. before a retrain) are run again.
        let model = trained
            .as_ref()
            .map_or_else(|| "random".to_string(), |t| t.key.to_string());
        let summary = run_grid(exp, path, &bench, &manifest, &model, build, &multi)?;
        print!(
            "{}",
            std::fs::read_to_string(out.join("results.md")).context("reading results.md")?
        );
        eprintln!(
            "cells: {} run, {} skipped (already done), {} failed",
            summary.ran.len(),
            summary.skipped.len(),
            summary.failed.len()
        );
        for r in summary.rows.iter().filter(|r| r.skipped > 0) {
            eprintln!(
                "warning: cell {}: {} questions skipped as unreadable (counted wrong), see {}",
                r.cell,
                r.skipped,
                out.join("cells")
                    .join(&r.cell)
                    .join("skipped.jsonl")
                    .display()
            );
        }
        match hico_viz::plot_run_dir(&out) {
            Ok(files) => eprintln!(
                "plots: {} files in {}",
                files.len(),
                out.join("plots").display()
            ),
            Err(e) => eprintln!("warning: plotting {} failed: {e}", out.display()),
        }
        match super::examples::draw_examples(&out) {
            Ok(files) if !files.is_empty() => eprintln!(
                "plots: {} patch-overlay files in {}",
                files.len(),
                out.join("plots").join("examples").display()
            ),
            Ok(_) => {}
            Err(e) => eprintln!("warning: drawing the examples failed: {e:#}"),
        }
        eprintln!("results: {}", out.join("results.md").display());
        Ok(())
    }
}
