//! `hico train`: train one stage (`--config configs/train/stage3_long.toml`) or chain stages
//! (`--stages 1,2,3,4`, each starting from the previous stage's final weights), resumable
//! with `--resume`. `--make-synth DIR` writes the tiny synthetic colour dataset that
//! `configs/train/tiny_synth.toml` trains on. `--replicas N` trains data-parallel: N
//! replicas on N GPUs (`--device cuda`), or N replicas sharing the CPU (to check the path),
//! as threads of this process. `--rank R --world-size N --master-addr HOST:PORT` (or
//! torchrun's environment variables) makes this process rank R of N (`train_dist.rs`).

use hico_backend::HicoAutodiff;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
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
    /// Multi-process data parallel (one process per device).
    #[cfg(feature = "ddp")]
    #[command(flatten)]
    pub dist: super::train_dist::DistArgs,
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
        let pipeline = hico_model::load_config(&pipe_path)
            .with_context(|| format!("the pipeline of stage {}", path.display()))?;
        plan.push((stage, pipeline));
    }
    let shared = device == DeviceArg::Cpu;
    #[cfg(feature = "ddp")]
    let launch = args.dist.resolve()?;
    #[cfg(not(feature = "ddp"))]
    let launch: Option<Launch> = None;
    if launch.is_some() && args.replicas > 1 {
        bail!("--replicas (threads in one process) and --world-size (processes) do not combine");
    }
    dispatch(
        device,
        TrainJob {
            args,
            plan,
            shared,
            launch,
        },
    )
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

#[cfg(feature = "ddp")]
use super::train_dist::Launch;
/// Stands in for a multi-process launch in builds without `ddp` (never constructed).
#[cfg(not(feature = "ddp"))]
enum Launch {}

struct TrainJob {
    args: Args,
    plan: Vec<(StageConfig, PipelineConfig)>,
    /// Whether replicas share one device (the CPU) instead of one device each.
    shared: bool,
    /// This process's place in a multi-process run, if it is one.
    #[cfg_attr(not(feature = "ddp"), allow(dead_code))]
    launch: Option<Launch>,
}

/// The devices of `n` replicas: `first` repeated when `shared`, else devices 0..n of its kind.
fn replica_devices<B: HicoAutodiff>(
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

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        #[cfg(feature = "ddp")]
        if let Some(launch) = &self.launch {
            return self.run_process::<B>(launch, device);
        }
        let devices = replica_devices::<B>(&device, self.args.replicas, self.shared)?;
        self.each_stage(|name, stage, pipeline, out, init| {
            // Without checkpoints a resumed stage starts fresh; with damaged ones it falls
            // back to the newest valid checkpoint.
            let o = hico_train::run_stage_parallel::<B>(
                pipeline,
                stage,
                init,
                out,
                self.args.resume,
                &devices,
                &hico_train::RunOptions::default(),
            )
            .with_context(|| format!("training stage `{name}`"))?;
            report(name, &o);
            Ok(o.checkpoint)
        })
    }
}

impl TrainJob {
    /// Run `train(name, stage, pipeline, out folder, starting weights)` for every stage of the
    /// plan in order, each starting from the folder the previous one returned (the first from
    /// `--init`); with `--resume` in a chain, finished stages are skipped.
    fn each_stage(
        &self,
        mut train: impl FnMut(
            &str,
            &StageConfig,
            &PipelineConfig,
            &Path,
            Option<&Path>,
        ) -> Result<PathBuf>,
    ) -> Result<()> {
        let chained = self.plan.len() > 1;
        let mut init = self.args.init.clone();
        for (stage, pipeline) in &self.plan {
            let name = if stage.name.is_empty() {
                "stage"
            } else {
                &stage.name
            };
            let out = self.out_dir(name, chained);
            if let Some(done) = self.finished(&out, chained) {
                println!("{name}: already finished ({}), skipping", done.display());
                init = Some(done);
                continue;
            }
            init = Some(train(name, stage, pipeline, &out, init.as_deref())?);
        }
        Ok(())
    }

    /// A stage's output folder: `--out` (its sub-folder `name` when chaining), else
    /// runs/train/`name`.
    fn out_dir(&self, name: &str, chained: bool) -> PathBuf {
        match (&self.args.out, chained) {
            (Some(o), false) => o.clone(),
            (Some(o), true) => o.join(name),
            (None, _) => PathBuf::from("runs/train").join(name),
        }
    }

    /// With `--resume` in a chain, a stage already finished: its final folder.
    fn finished(&self, out: &Path, chained: bool) -> Option<PathBuf> {
        let final_dir = out.join("final");
        (self.args.resume && chained && final_dir.join("model.mpk").exists()).then_some(final_dir)
    }

    /// Every stage as one rank of a multi-process run: join the others, then train each
    /// stage on this process's device (GPU `local_rank` of its kind, or the CPU).
    #[cfg(feature = "ddp")]
    fn run_process<B: HicoAutodiff>(&self, launch: &Launch, device: Device<B>) -> Result<()> {
        use burn::tensor::backend::{Device as _, DeviceId, DeviceOps as _};
        let (rank, world) = (launch.config.rank, launch.config.world);
        let device = match self.shared {
            true => device,
            false => {
                let kind = device.id().type_id;
                let available = B::device_count(kind);
                if launch.local_rank >= available {
                    bail!(
                        "rank {rank}: local rank {} but {available} devices of this kind on this machine",
                        launch.local_rank
                    );
                }
                Device::<B>::from_id(DeviceId::new(kind, launch.local_rank as u16))
            }
        };
        super::train_dist::quiet_network_logs();
        eprintln!(
            "rank {rank} of {world}: meeting the others at {}",
            launch.config.master
        );
        let group = hico_train::dist::ProcessGroup::connect(&launch.config)?;
        self.each_stage(|name, stage, pipeline, out, init| {
            let o = hico_train::run_stage_distributed::<B>(
                pipeline,
                stage,
                init,
                out,
                self.args.resume,
                &device,
                &group,
                &hico_train::RunOptions::default(),
            )
            .with_context(|| format!("training stage `{name}` as rank {rank} of {world}"))?;
            match o {
                Some(o) => report(name, &o),
                None => println!("{name}: rank {rank} of {world} done"),
            }
            // Every rank continues from what rank 0 wrote (the same folder for all).
            Ok(out.join("final"))
        })
    }
}

/// The line printed when a stage ends.
fn report(name: &str, o: &TrainOutcome) {
    println!(
        "{name}: {} steps, final loss {:.4}, {} samples skipped; model in {}",
        o.steps,
        o.final_loss,
        o.skipped_samples,
        o.checkpoint.display()
    );
}
