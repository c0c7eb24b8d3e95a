//! `hico train`: train one stage (`--config configs/train/stage3_long.toml`) or chain stages
//! (`--stages 1,2,3,4`, each starting from the previous stage's final weights), resumable
//! with `--resume`. `--make-synth DIR` writes the tiny synthetic colour dataset that
//! `configs/train/tiny_synth.toml` trains on. `--replicas N` trains data-parallel: N
//! replicas on N GPUs (`--device cuda`), or N replicas sharing the CPU (to check the path).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, backend::AutodiffBackend};
use hico_core::config::PipelineConfig;
use hico_train::{StageConfig, TrainOutcome};

use crate::backend::{DeviceArg, Job, dispatch};

/// Arguments of `hico train`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One stage config (TOML).
    #[arg(long, conflicts_with = "stages")]
    pub config: Option<PathBuf>,
    /// Chain stages by number, e.g. `1,2,3,4`: stage N is the file `stageN_*.toml` in
    /// `--stage-dir`.
    #[arg(long, value_delimiter = ',')]
    pub stages: Vec<usize>,
    /// Folder of the numbered stage configs.
    #[arg(long, default_value = "configs/train")]
    pub stage_dir: PathBuf,
    /// Output folder (one sub-folder per stage when chaining; default runs/train/<name>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue from the latest checkpoints (chained stages already finished are skipped).
    #[arg(long)]
    pub resume: bool,
    /// Weights to start the (first) stage from: a stage output folder, its final/ folder or
    /// a checkpoint folder.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Train this pipeline config instead of the one each stage names.
    #[arg(long)]
    pub pipeline: Option<PathBuf>,
    /// Stop each stage after this many optimizer steps (overrides `max_steps`).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Data-parallel replicas: one per GPU (devices 0..N), or N sharing the CPU. Each step's
    /// samples are split over them and their gradients summed (burn's collective all-reduce).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// Write the synthetic colour dataset (train.json, test.json, videos) to this folder
    /// and exit.
    #[arg(long)]
    pub make_synth: Option<PathBuf>,
}

/// Run `hico train`.
pub fn run(args: Args, device: DeviceArg) -> Result<()> {
    if let Some(dir) = &args.make_synth {
        hico_train::synth_data::write_colour_dataset(dir)?;
        println!(
            "wrote {}/train.json (48 videos) and {}/test.json (24 videos)",
            dir.display(),
            dir.display()
        );
        return Ok(());
    }
    if args.replicas == 0 {
        bail!("--replicas must be at least 1");
    }
    let configs = match (&args.config, args.stages.is_empty()) {
        (Some(c), true) => vec![c.clone()],
        (None, false) => args
            .stages
            .iter()
            .map(|&n| find_stage(&args.stage_dir, n))
            .collect::<Result<_>>()?,
        _ => bail!("give either --config STAGE.toml or --stages 1,2,..."),
    };
    let mut plan = Vec::new();
    for path in &configs {
        let mut stage = StageConfig::load(path)?;
        if let Some(n) = args.max_steps {
            stage.max_steps = n;
        }
        let pipe_path = args
            .pipeline
            .clone()
            .unwrap_or_else(|| stage.pipeline.clone());
        let pipeline = PipelineConfig::load(&pipe_path)
            .with_context(|| format!("the pipeline of stage {}", path.display()))?;
        plan.push((stage, pipeline));
    }
    let shared = device == DeviceArg::Cpu;
    dispatch(device, TrainJob { args, plan, shared })
}

/// `stageN_*.toml` in `dir`.
fn find_stage(dir: &Path, n: usize) -> Result<PathBuf> {
    let prefix = format!("stage{n}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "toml")
                && p.file_name()
                    .is_some_and(|f| f.to_string_lossy().starts_with(&prefix))
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => bail!("no {prefix}*.toml in {}", dir.display()),
        _ => bail!("several {prefix}*.toml in {}: {found:?}", dir.display()),
    }
}

struct TrainJob {
    args: Args,
    plan: Vec<(StageConfig, PipelineConfig)>,
    /// Whether replicas share one device (the CPU) instead of one device each.
    shared: bool,
}

/// The devices of `n` replicas: `first` repeated when `shared`, else devices 0..n of its kind.
fn replica_devices<B: AutodiffBackend>(
    first: &Device<B>,
    n: usize,
    shared: bool,
) -> Result<Vec<Device<B>>> {
    use burn::tensor::backend::{Device as _, DeviceId, DeviceOps as _};
    if n == 1 || shared {
        return Ok(vec![first.clone(); n]);
    }
    let id = first.id();
    let available = B::device_count(id.type_id);
    if available < n {
        bail!("--replicas {n} needs {n} devices of this kind; {available} found");
    }
    Ok((0..n)
        .map(|i| Device::<B>::from_id(DeviceId::new(id.type_id, i as u16)))
        .collect())
}

impl Job for TrainJob {
    type Output = ();

    fn run<B: AutodiffBackend>(self, device: Device<B>) -> Result<()> {
        let devices = replica_devices::<B>(&device, self.args.replicas, self.shared)?;
        let chained = self.plan.len() > 1;
        let mut init = self.args.init.clone();
        for (stage, pipeline) in &self.plan {
            let name = if stage.name.is_empty() {
                "stage"
            } else {
                &stage.name
            };
            let out = match (&self.args.out, chained) {
                (Some(o), false) => o.clone(),
                (Some(o), true) => o.join(name),
                (None, _) => PathBuf::from("runs/train").join(name),
            };
            let final_dir = out.join("final");
            if self.args.resume && chained && final_dir.join("model.mpk").exists() {
                println!(
                    "{name}: already finished ({}), skipping",
                    final_dir.display()
                );
                init = Some(final_dir);
                continue;
            }
            // Without checkpoints a resumed stage starts fresh; with damaged ones it falls
            // back to the newest valid checkpoint.
            let resume = self.args.resume;
            let opts = hico_train::RunOptions::default();
            let o: TrainOutcome = hico_train::run_stage_parallel::<B>(
                pipeline,
                stage,
                init.as_deref(),
                &out,
                resume,
                &devices,
                &opts,
            )
            .with_context(|| format!("training stage `{name}`"))?;
            println!(
                "{name}: {} steps, final loss {:.4}, {} samples skipped; model in {}",
                o.steps,
                o.final_loss,
                o.skipped_samples,
                o.checkpoint.display()
            );
            init = Some(o.checkpoint);
        }
        Ok(())
    }
}
