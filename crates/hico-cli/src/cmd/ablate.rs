//! `hico ablate EXPERIMENT.toml`: build (or reuse) the experiment's benchmark, train one
//! model per training seed if it asks (cached in `seed-<s>/`), run every grid cell and the
//! drop-depth cells with each (resumable: finished cells are skipped), write `results.csv`,
//! `results.md`, `paired.json`, `depth_curve.csv`, `niah.csv` and the cell folders, then
//! draw the plots. The
//! output folder is locked for the whole run (`hico_core::lock::DirLock`). An experiment whose
//! `[benchmark] kind` is a public task (`videomme`, `mvbench`, ...) runs its cells with
//! `hico eval`'s path instead (`hico_eval::ablate::public_grid`).

use hico_backend::HicoAutodiff;
use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use hico_core::lock::DirLock;
use hico_eval::ablate::{Experiment, PublicExperiment, run_public_grid, run_seeds};
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
    if let Some(mut exp) = PublicExperiment::load(&args.experiment)? {
        if let Some(out) = args.out {
            exp.out = Some(out);
        }
        if let Some(model) = &args.model {
            exp.overrides
                .insert("model".into(), crate::cmd::source::model_table(model));
        }
        return dispatch(
            device,
            PublicJob {
                exp,
                path: args.experiment,
            },
        );
    }
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

struct PublicJob {
    exp: PublicExperiment,
    path: PathBuf,
}

impl Job for PublicJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        let out = self.exp.out_dir();
        std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
        let _lock = DirLock::acquire(&out, "hico ablate")?;
        let build = |cfg: &hico_core::config::PipelineConfig| {
            Pipeline::<B::InnerBackend>::new(cfg.clone(), &device).map_err(|e| e.to_string())
        };
        hico_backend::on_worker(|| {
            run_public_grid(&self.exp, &self.path, build, |l| eprintln!("{l}"))
        })?;
        print!(
            "{}",
            std::fs::read_to_string(out.join("results.md")).context("reading results.md")?
        );
        println!("wrote {}", out.display());
        Ok(())
    }
}

struct AblateJob {
    exp: Experiment,
    path: PathBuf,
}

impl Job for AblateJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        let (exp, path) = (&self.exp, &self.path);
        let out = exp.out_dir();
        // One run per output folder: a second `hico ablate` on it stops here.
        let _lock = DirLock::acquire(&out, "hico ablate")?;
        let multi = MultiProgress::new();
        let summary = run_seeds::<B>(exp, path, &multi, &device)?;
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
            let model = r
                .seed
                .map_or_else(|| out.clone(), |s| out.join(format!("seed-{s}")));
            eprintln!(
                "warning: cell {}: {} questions skipped as unreadable (counted wrong), see {}",
                r.cell,
                r.skipped,
                model
                    .join("cells")
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
        // The examples of the first seed's model (the cells' files are per model).
        let model = super::examples::first_model_dir(&out);
        match super::examples::draw_examples(&model, &out) {
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
