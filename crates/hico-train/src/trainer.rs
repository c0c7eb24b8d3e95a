//! Training one stage, generic over `B: AutodiffBackend` (the same code on the CPU and on
//! burn-cuda): setting up (config, weights, resumed state), then one replica of the step
//! loop (`steps.rs`) on one device, or several side by side (data parallel, feature `ddp`),
//! or as one process of several ([`run_stage_distributed`], `dist/`).
//!
//! A step consumes `batch_size · grad_accum` samples of the shuffled order, one forward and
//! backward per sample (sequence batch 1: sequences differ in length and visual count), each
//! sample's loss scaled by `1 / (batch_size · grad_accum)` and its gradients accumulated per
//! trainable part. Then one AdamW step per trainable part with that part's learning rate at
//! this step of the schedule. Frozen parts are marked `no_grad`: no gradient is computed
//! for them and the optimizer holds no state for them.

use hico_backend::HicoAutodiff;
use std::path::Path;

use burn::prelude::Device;
use hico_core::config::PipelineConfig;

use crate::{
    StageConfig, TrainError,
    prepare::{RunOptions, prepare},
    replicas::Single,
    steps::{self, TrainOutcome},
};

/// Train one stage; see [`run_stage_with`].
pub fn run_stage<B: HicoAutodiff>(
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
pub fn run_stage_with<B: HicoAutodiff>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
    opts: &RunOptions,
) -> Result<TrainOutcome, TrainError> {
    let (prep, model) = prepare::<B>(pipeline, stage, init, out_dir, resume, device, true)?;
    // The steps run on a worker of rayon's pool (`on_worker`: +10 % training tokens/s on two
    // cores, docs/performance.md). The data loader's threads are plain threads, so a step
    // waiting for a sample never waits on the pool.
    let outcome = hico_backend::on_worker(|| {
        steps::run_replica(&prep, model, stage, out_dir, device, opts, &Single)
    })?;
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
pub fn run_stage_parallel<B: HicoAutodiff>(
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
fn parallel<B: HicoAutodiff>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    devices: &[Device<B>],
    opts: &RunOptions,
) -> Result<TrainOutcome, TrainError> {
    use crate::replicas::{Collective, CollectiveSetup};
    use burn::module::Module;
    let (prep, model) = prepare::<B>(pipeline, stage, init, out_dir, resume, &devices[0], true)?;
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

/// Train one stage as rank `group.rank()` of a multi-process run (one process per device, on
/// one machine or several; see [`crate::dist`]): the same step loop as
/// [`run_stage_parallel`], each rank taking every `world`-th sample of each step, gradients
/// and statistics summed over the processes. Rank 0 alone writes `out_dir` (metrics,
/// checkpoints, final folder) and returns the outcome; the others return `None`. Every rank
/// reads `out_dir`'s checkpoints to resume, so it must be the same folder for all (one
/// machine, or a shared file system); before the first step the ranks check that they start
/// at the same step with the same weights. Ends with a barrier, so no rank leaves while
/// another still needs it.
#[cfg(feature = "ddp")]
#[allow(clippy::too_many_arguments)]
pub fn run_stage_distributed<B: HicoAutodiff>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
    group: &crate::dist::ProcessGroup,
    opts: &RunOptions,
) -> Result<Option<TrainOutcome>, TrainError> {
    let lead = group.rank() == 0;
    let (prep, model) = prepare::<B>(pipeline, stage, init, out_dir, resume, device, lead)?;
    if lead && stage.samples_per_step() < group.world() {
        eprintln!(
            "warning: {} samples per step (batch_size × grad_accum) over {} processes: some idle every step",
            stage.samples_per_step(),
            group.world()
        );
    }
    crate::dist::check_same_start::<B, _>(group, prep.state.step, &model)?;
    let outcome = steps::run_replica(&prep, model, stage, out_dir, device, opts, group)?;
    group.barrier()?;
    Ok(outcome)
}
