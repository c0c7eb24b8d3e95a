//! Training one stage, generic over `B: AutodiffBackend` (the same code on the CPU and on
//! burn-cuda): setting up (config, weights, resumed state), then one replica of the step
//! loop (`steps.rs`) on one device, or several side by side (data parallel, feature `ddp`).
//!
//! A step consumes `batch_size · grad_accum` samples of the shuffled order, one forward and
//! backward per sample (sequence batch 1: sequences differ in length and visual count), each
//! sample's loss scaled by `1 / (batch_size · grad_accum)` and its gradients accumulated per
//! trainable part. Then one AdamW step per trainable part with that part's learning rate at
//! this step of the schedule. Frozen parts are marked `no_grad`: no gradient is computed
//! for them and the optimizer holds no state for them.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use burn::{
    optim::{AdamW, AdamWConfig, adaptor::OptimizerAdaptor, grad_clipping::GradientClippingConfig},
    prelude::*,
    tensor::backend::AutodiffBackend,
};
use hico_core::{config::PipelineConfig, lock::DirLock};
use hico_model::{Pipeline, VideoLlm};

use crate::{
    StageConfig, TrainError,
    checkpoint::{self, TrainState},
    data::{Sample, load_annotations},
    export,
    replicas::Single,
    rng::TrainRng,
    steps,
};

/// What a finished (or stopped) stage left behind.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The final model folder (`<out>/final`), or the last checkpoint when stopped early.
    pub checkpoint: PathBuf,
    /// Optimizer steps done.
    pub steps: usize,
    /// Loss of the last step.
    pub final_loss: f32,
    /// Samples skipped (unreadable or too long).
    pub skipped_samples: usize,
}

/// Knobs that are not part of a stage's science (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Return right after the checkpoint of this step (simulates an interruption).
    pub stop_after: Option<usize>,
    /// Override the stage's `checkpoint.progress`.
    pub progress: Option<bool>,
}

/// The optimizer of a stage: AdamW over the whole model.
pub(crate) type Optim<B> = OptimizerAdaptor<AdamW, VideoLlm<B>, B>;

/// Train one stage; see [`run_stage_with`].
pub fn run_stage<B: AutodiffBackend>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
) -> Result<TrainOutcome, TrainError> {
    run_stage_with::<B>(
        pipeline,
        stage,
        init,
        out_dir,
        resume,
        device,
        &RunOptions::default(),
    )
}

/// Train one stage of `pipeline` on one device: start from `init` (a previous stage's final
/// folder or checkpoint) or random weights, or with `resume` from `out_dir`'s latest
/// checkpoint (the newest that passes its manifest). Writes `out_dir/{stage.json,
/// pipeline.json, metrics.jsonl, checkpoints/, final/}`, holding `out_dir`'s lock
/// ([`DirLock`]) meanwhile: a second run on the same folder fails before writing anything.
pub fn run_stage_with<B: AutodiffBackend>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
    opts: &RunOptions,
) -> Result<TrainOutcome, TrainError> {
    let (prep, model) = prepare::<B>(pipeline, stage, init, out_dir, resume, device)?;
    let outcome = steps::run_replica(&prep, model, stage, out_dir, device, opts, &Single)?;
    Ok(outcome.expect("replica 0 reports the outcome"))
}

/// Train one stage data-parallel on `devices`: one replica per device, each on its own
/// thread, taking every `devices.len()`-th sample of each step; gradients and step
/// statistics are summed with burn's collective all-reduce, so every replica applies the
/// same update and a step equals a single-device step over the same samples (up to float
/// summation order). On the CPU, pass the CPU device several times: the replicas then share
/// it. Replica 0 writes metrics, checkpoints and the final folder; checkpoints are the same
/// as a single-device run's, so a run can resume on any number of devices. One device is
/// [`run_stage_with`]; several need the `ddp` feature (default on), else this returns
/// [`TrainError::Invalid`] before any work.
pub fn run_stage_parallel<B: AutodiffBackend>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    devices: &[Device<B>],
    opts: &RunOptions,
) -> Result<TrainOutcome, TrainError> {
    match devices {
        [] => Err(TrainError::Invalid(
            "data parallel training needs at least one device".into(),
        )),
        [device] => run_stage_with::<B>(pipeline, stage, init, out_dir, resume, device, opts),
        #[cfg(feature = "ddp")]
        _ => parallel::<B>(pipeline, stage, init, out_dir, resume, devices, opts),
        #[cfg(not(feature = "ddp"))]
        _ => Err(TrainError::Invalid(format!(
            "{} devices: this build has no data-parallel training; rebuild with the `ddp` feature (on by default)",
            devices.len()
        ))),
    }
}

/// [`run_stage_parallel`] on two or more devices.
#[cfg(feature = "ddp")]
fn parallel<B: AutodiffBackend>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    devices: &[Device<B>],
    opts: &RunOptions,
) -> Result<TrainOutcome, TrainError> {
    use crate::replicas::{Collective, CollectiveSetup};
    let (prep, model) = prepare::<B>(pipeline, stage, init, out_dir, resume, &devices[0])?;
    let world = devices.len();
    if stage.samples_per_step() < world {
        eprintln!(
            "warning: {} samples per step (batch_size × grad_accum) over {world} replicas: some replicas idle every step",
            stage.samples_per_step()
        );
    }
    let setup = CollectiveSetup::new(world);
    // Copies made here, before the threads start, keep every parameter id equal across the
    // replicas (the all-reduce matches gradients by id).
    // The starting weights are dropped after the copies: no replica keeps a second set alive.
    let models: Vec<_> = devices.iter().map(|d| model.clone().fork(d)).collect();
    drop(model);
    let results: Vec<Result<Option<TrainOutcome>, TrainError>> = std::thread::scope(|s| {
        let handles: Vec<_> = models
            .into_iter()
            .zip(devices)
            .enumerate()
            .map(|(rank, (model, device))| {
                let (prep, setup) = (&prep, &setup);
                std::thread::Builder::new()
                    .name(format!("hico-replica-{rank}"))
                    .spawn_scoped(s, move || {
                        let replica = Collective::<B>::register(setup, rank, world, device)?;
                        steps::run_replica(prep, model, stage, out_dir, device, opts, &replica)
                    })
                    .expect("spawning a replica thread")
            })
            .collect();
        handles
            .into_iter()
            .enumerate()
            .map(|(rank, h)| {
                h.join().unwrap_or_else(|_| {
                    Err(TrainError::Replica(format!("replica {rank} panicked")))
                })
            })
            .collect()
    });
    // The most specific error wins: a replica's own failure over the others' "stopped".
    let mut outcome = None;
    let mut stopped = None;
    for result in results {
        match result {
            Ok(Some(o)) => outcome = Some(o),
            Ok(None) => {}
            Err(TrainError::Replica(m)) => stopped = stopped.or(Some(TrainError::Replica(m))),
            Err(e) => return Err(e),
        }
    }
    match (stopped, outcome) {
        (Some(e), _) => Err(e),
        (None, Some(o)) => Ok(o),
        (None, None) => Err(TrainError::Replica("no replica reported an outcome".into())),
    }
}

/// Everything the replicas share, made once before training starts.
pub(crate) struct Prepared {
    /// The stage's pipeline config.
    pub cfg: PipelineConfig,
    /// The annotations.
    pub samples: Arc<Vec<Sample>>,
    /// Optimizer steps of the stage.
    pub total: usize,
    /// The tokenizer the pipeline uses.
    pub tokenizer: hico_llm::HicoTokenizer,
    /// Where training stands.
    pub state: TrainState,
    /// The checkpoint being resumed (its optimizer state is loaded by each replica).
    pub resumed: Option<PathBuf>,
    /// The output folder's lock, held while the stage runs.
    _lock: DirLock,
}

/// Read the stage, build the model, load `init` or the checkpoint to resume. Returns what the
/// replicas share and, apart, the starting weights (initial, `init`'s or the resumed
/// checkpoint's; frozen parts marked), which the caller hands on without keeping a copy:
/// a copy held for the whole stage would keep a second set of weights alive.
fn prepare<B: AutodiffBackend>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
) -> Result<(Prepared, VideoLlm<B>), TrainError> {
    let cfg = stage.stage_pipeline(pipeline)?;
    let root = &stage.data.video_root;
    let samples = Arc::new(load_annotations(&stage.data.annotations, root)?);
    if samples.is_empty() {
        return Err(TrainError::Invalid(format!(
            "{}: no samples",
            stage.data.annotations.display()
        )));
    }
    let total = stage.total_steps(samples.len());
    // Before anything is written: one run per output folder.
    let lock =
        DirLock::acquire(out_dir, "hico train").map_err(|e| TrainError::Invalid(e.to_string()))?;
    checkpoint::write_json(&out_dir.join("stage.json"), stage)?;
    checkpoint::write_json(&out_dir.join("pipeline.json"), &cfg)?;

    let mut pipe = Pipeline::<B>::new(cfg.clone(), device)
        .map_err(|e| TrainError::Model(format!("building {}: {e}", stage.pipeline.display())))?;
    // Draw lazily initialised weights now, from the config's seed (see `materialize`).
    B::seed(device, cfg.seed);
    checkpoint::materialize(&pipe.model);
    let ck_root = out_dir.join("checkpoints");
    let latest = match resume {
        true => checkpoint::resume_point(&ck_root)?,
        false => checkpoint::latest(&ck_root)?,
    };
    let (state, resumed) = match (resume, latest) {
        (true, Some(dir)) => {
            pipe = with_model(pipe, |m| checkpoint::load_weights(m, &dir, device))?;
            let st = checkpoint::load_state(&dir)?;
            if st.total_steps != total {
                return Err(TrainError::Checkpoint {
                    path: dir,
                    message: format!(
                        "saved for a stage of {} steps, the stage now has {total}: the data or the config changed since",
                        st.total_steps
                    ),
                });
            }
            (st, Some(dir))
        }
        (false, Some(dir)) => {
            return Err(TrainError::Invalid(format!(
                "{} already holds checkpoints (latest {}): pass --resume or choose another output folder",
                out_dir.display(),
                dir.display()
            )));
        }
        (_, None) => {
            if let Some(init) = init {
                let dir = export::resolve_weights(init)?;
                pipe = with_model(pipe, |m| checkpoint::load_weights(m, &dir, device))?;
            }
            let mut rng = TrainRng::new(stage.seed);
            let state = TrainState {
                stage: stage.name.clone(),
                step: 0,
                total_steps: total,
                epoch: 0,
                position: 0,
                order_seed: rng.next_u64(),
                rng,
                skipped: 0,
                last_loss: f32::NAN,
            };
            (state, None)
        }
    };
    pipe = with_model(pipe, |m| Ok(freeze(m, stage)))?;
    let prep = Prepared {
        cfg,
        samples,
        total,
        tokenizer: pipe.tokenizer,
        state,
        resumed,
        _lock: lock,
    };
    Ok((prep, pipe.model))
}

/// The AdamW of a stage (per-part learning rates are passed at each step).
pub(crate) fn optimizer<B: AutodiffBackend>(stage: &StageConfig) -> Optim<B> {
    AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(stage.optim.weight_decay as f32)
        .with_grad_clipping(
            stage
                .optim
                .clip_norm
                .map(|c| GradientClippingConfig::Norm(c as f32)),
        )
        .init()
}

/// Mark the parts the stage does not train as `no_grad`.
fn freeze<B: AutodiffBackend>(mut m: VideoLlm<B>, stage: &StageConfig) -> VideoLlm<B> {
    if stage.lr.encoder.is_none() {
        m.encoder = m.encoder.no_grad();
    }
    if stage.lr.connector.is_none() {
        m.connector = m.connector.no_grad();
    }
    if stage.lr.llm.is_none() {
        m.llm = m.llm.no_grad();
    }
    m
}

/// Replace a pipeline's weights by a function of them (the optimizer consumes the model).
pub(crate) fn with_model<B: Backend>(
    pipe: Pipeline<B>,
    f: impl FnOnce(VideoLlm<B>) -> Result<VideoLlm<B>, TrainError>,
) -> Result<Pipeline<B>, TrainError> {
    let Pipeline {
        cfg,
        model,
        sampler,
        compressor,
        schedule,
        tokenizer,
        device,
    } = pipe;
    Ok(Pipeline {
        model: f(model)?,
        cfg,
        sampler,
        compressor,
        schedule,
        tokenizer,
        device,
    })
}
