//! `hico niah build|eval`: build a needle-in-a-video-haystack set (single needle,
//! multi-hop or find the object) as mp4 files plus `manifest.json` / `llava.json`, and score a pipeline on one
//! (option-letter logits, optional free-form exact match, accuracy per depth × length).

use hico_backend::HicoAutodiff;
use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use hico_core::config::PipelineConfig;
use hico_eval::{
    bench::{BenchSpec, HaystackSource, Manifest, MhNiahSpec, NiahSpec, ObjectSpec, build_set},
    score::{ScoreOptions, score_set, write_niah_csv},
    write_json,
};
use hico_model::Pipeline;

use crate::backend::{DeviceArg, Job, dispatch};
use crate::cmd::source::PipelineSource;

/// Which benchmark to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// One needle clip per haystack.
    Niah,
    /// A chain of clue needles with distractors and decoys.
    MhNiah,
    /// A small coloured object drifting through one clip (16 px).
    Object,
}

/// `hico niah` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Build a needle-in-a-haystack set into OUT.
    Build {
        /// Output directory.
        out: PathBuf,
        /// Benchmark kind.
        #[arg(long, value_enum, default_value = "niah")]
        kind: Kind,
        /// Haystack lengths in frames (multiples of 4).
        #[arg(long, value_delimiter = ',', default_value = "64")]
        frames: Vec<usize>,
        /// Needle depths in [0, 1] (multi-hop: of the final hop).
        #[arg(long, value_delimiter = ',', default_value = "0,0.2,0.4,0.6,0.8,1")]
        depths: Vec<f64>,
        /// Questions per (frames, depth).
        #[arg(long, default_value_t = 1)]
        repeats: usize,
        /// Frame side in pixels.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// Frame rate of the written videos.
        #[arg(long, default_value_t = 1.0)]
        fps: f64,
        /// Seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Take haystack frames from this video instead of the synthetic generator.
        #[arg(long)]
        haystack: Option<PathBuf>,
    },
    /// Score a pipeline on a set.
    Eval {
        /// Set directory (holds manifest.json).
        set: PathBuf,
        /// The pipeline: `--config FILE`, `--model DIR` (a released model), or both.
        #[command(flatten)]
        source: PipelineSource,
        /// Trained model folder (hico-train output); random weights when absent.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// Also generate answers and score exact match.
        #[arg(long)]
        free_form: bool,
        /// Output folder (default SET/eval-<config name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Most unreadable questions to skip (logged to OUT/skipped.jsonl, counted as
        /// wrong) before stopping (default: a tenth of the set).
        #[arg(long)]
        max_skipped: Option<usize>,
    },
}

/// Run `hico niah`.
pub fn run(c: Command, device: DeviceArg) -> Result<()> {
    match c {
        Command::Build {
            out,
            kind,
            frames,
            depths,
            repeats,
            size,
            fps,
            seed,
            haystack,
        } => {
            let haystack = haystack.map_or(HaystackSource::Synthetic, |path| {
                HaystackSource::Video { path }
            });
            let spec = match kind {
                Kind::Niah => BenchSpec::Niah(NiahSpec {
                    frames,
                    depths,
                    repeats,
                    size,
                    fps,
                    needle_frames: 4,
                    shuffle_options: true,
                    seed,
                    haystack,
                }),
                Kind::MhNiah => BenchSpec::MhNiah(MhNiahSpec {
                    frames,
                    depths,
                    repeats,
                    min_hops: 5,
                    max_hops: 7,
                    distractors: 2,
                    decoys: 1,
                    size,
                    fps,
                    needle_frames: 4,
                    shuffle_options: true,
                    seed,
                    haystack,
                }),
                Kind::Object => BenchSpec::Object(ObjectSpec {
                    frames,
                    depths,
                    repeats,
                    object_size: 16,
                    size,
                    fps,
                    needle_frames: 4,
                    shuffle_options: true,
                    seed,
                    haystack,
                }),
            };
            let pb = crate::progress::bar("videos");
            let m = build_set(&spec, "<command line>".as_ref(), &out, Some(&pb))?;
            pb.finish_and_clear();
            println!("{} questions in {}", m.samples.len(), out.display());
            Ok(())
        }
        Command::Eval {
            set,
            source,
            checkpoint,
            free_form,
            out,
            max_skipped,
        } => {
            let cfg = source.load()?;
            let manifest = Manifest::load(&set)?;
            let name = if cfg.name.is_empty() {
                "run"
            } else {
                &cfg.name
            };
            let out = out.unwrap_or_else(|| set.join(format!("eval-{name}")));
            dispatch(
                device,
                EvalJob {
                    set,
                    cfg,
                    checkpoint,
                    free_form,
                    out,
                    manifest,
                    max_skipped,
                },
            )
        }
    }
}

struct EvalJob {
    set: PathBuf,
    cfg: PipelineConfig,
    checkpoint: Option<PathBuf>,
    free_form: bool,
    out: PathBuf,
    manifest: Manifest,
    max_skipped: Option<usize>,
}

impl Job for EvalJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        let pipe = match &self.checkpoint {
            Some(ck) => hico_train::load_trained::<B::InnerBackend>(&self.cfg, ck, &device)?,
            None => Pipeline::<B::InnerBackend>::new(self.cfg.clone(), &device)?,
        };
        let opts = ScoreOptions {
            free_form: self.free_form,
            capture_all_layers: true,
            max_skipped: self.max_skipped,
        };
        std::fs::create_dir_all(&self.out)
            .with_context(|| format!("creating {}", self.out.display()))?;
        let pb = crate::progress::bar("questions");
        let s = score_set(
            &pipe,
            &self.set,
            &self.manifest,
            opts,
            Some(self.out.as_path()),
            Some(&pb),
        )?;
        pb.finish_and_clear();
        write_json(&self.out.join("scores.json"), &s)?;
        write_niah_csv(&self.out.join("niah.csv"), &s.by_depth)?;
        if let Some(run) = &s.first_run {
            run.write_dir(&self.out, &self.cfg)?;
        }
        println!("frames  depth  n  accuracy");
        for c in &s.by_depth {
            println!(
                "{:>6}  {:>5.2}  {}  {:.3}",
                c.frames, c.depth, c.n, c.accuracy
            );
        }
        println!(
            "accuracy (letter logits): {:.3} over {} questions ({} skipped as unreadable, counted wrong); predicted A/B/C/D: {:?}",
            s.accuracy,
            s.samples.len() + s.skipped.len(),
            s.skipped.len(),
            s.predicted_counts
        );
        if !s.skipped.is_empty() {
            eprintln!(
                "warning: {} questions skipped, listed in {}",
                s.skipped.len(),
                self.out.join("skipped.jsonl").display()
            );
        }
        if let Some(em) = s.exact_match {
            println!("exact match (free-form): {em:.3}");
        }
        match hico_viz::plot_run_dir(&self.out) {
            Ok(files) => eprintln!("plots: {} files", files.len()),
            Err(e) => eprintln!("warning: plotting failed: {e}"),
        }
        println!("wrote {}", self.out.display());
        Ok(())
    }
}
