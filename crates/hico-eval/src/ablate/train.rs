//! Training before the grid, once: generate a training set of the benchmark's kind (another
//! seed), train the experiment's base pipeline with its hico-train stage config, and cache
//! the result (`OUT/train/trained.json`); later runs reuse the checkpoint while the training
//! set spec, stage, base config and hico's version and commit are unchanged (a change
//! retrains from scratch). A curriculum (`[[train.curriculum]]`) is a chain of such phases,
//! each cached the same way and keyed by the phases before it. Each training seed
//! (`[train] seeds`) is one such chain in its own folder (`OUT/seed-<s>/`).

use hico_backend::HicoAutodiff;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use hico_train::{StageConfig, run_stage};
use indicatif::MultiProgress;
use serde::{Deserialize, Serialize};

use super::{experiment::Experiment, runner::bar};
use hico_core::config::PipelineConfig;

use crate::{
    EvalError,
    bench::{BenchSpec, Manifest, build_set},
    read_json, write_json,
};

/// The cache record of a finished training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trained {
    /// The model folder `hico_train::load_trained` reads.
    pub checkpoint: PathBuf,
    /// Optimizer steps.
    pub steps: usize,
    /// Loss of the last step.
    pub final_loss: f32,
    /// Training questions.
    pub samples: usize,
    /// The training set spec, stage and base config it was trained from.
    pub key: serde_json::Value,
}

/// The checkpoint of training seed `seed` to evaluate: `None` when the experiment has no
/// `[train]`; otherwise the cached one, or a fresh training run (resumed if interrupted),
/// in the model's folder `out` (`OUT/seed-<s>`). Curriculum phases (`[[train.curriculum]]`)
/// train first, in order, each in `out/curriculum/<name>/` and from the previous phase's
/// weights; the main phase (`out/train`) starts from the last. The seed offsets the base
/// config's `seed` (initialisation), the stage's `seed` (data order) and the training sets'
/// seeds ([`crate::ablate::TrainSpec::for_seed`]).
pub fn ensure_trained<B: HicoAutodiff>(
    exp: &Experiment,
    exp_path: &Path,
    out: &Path,
    seed: u64,
    multi: &MultiProgress,
    device: &Device<B>,
) -> Result<Option<Trained>, EvalError> {
    let Some(spec) = &exp.train else {
        return Ok(None);
    };
    let spec = &spec.for_seed(seed);
    let mut stage = StageConfig::load(&spec.stage).map_err(|e| train_err(exp_path, e))?;
    stage.seed = stage.seed.wrapping_add(seed);
    let mut base = exp.base_config(exp_path)?;
    base.seed = base.seed.wrapping_add(seed);
    let mut init: Option<Trained> = None;
    for (k, phase) in spec.curriculum.iter().enumerate() {
        let mut stage = stage.clone();
        stage.name = format!("{}_{}", stage.name, phase.name);
        if let Some(e) = phase.epochs {
            stage.epochs = e;
        }
        let dir = out.join("curriculum").join(&phase.name);
        let job = Phase {
            data_spec: spec.phase_spec(k, &exp.benchmark, exp_path)?,
            stage,
            dir: dir.join("train"),
            data_dir: dir.join("data"),
        };
        init = Some(train_phase::<B>(
            &job,
            &base,
            init.as_ref(),
            exp_path,
            multi,
            device,
        )?);
    }
    let job = Phase {
        data_spec: spec.data_spec(&exp.benchmark, exp_path)?,
        stage,
        dir: out.join("train"),
        data_dir: out.join("train_data"),
    };
    train_phase::<B>(&job, &base, init.as_ref(), exp_path, multi, device).map(Some)
}

/// One training phase: its set, its stage, where it trains and where its data goes.
struct Phase {
    data_spec: BenchSpec,
    stage: StageConfig,
    dir: PathBuf,
    data_dir: PathBuf,
}

/// Train one phase from `init`'s weights (random when `None`), or reuse its cached result
/// while its set, stage, base config, starting point and hico's code are unchanged.
fn train_phase<B: HicoAutodiff>(
    job: &Phase,
    base: &PipelineConfig,
    init: Option<&Trained>,
    exp_path: &Path,
    multi: &MultiProgress,
    device: &Device<B>,
) -> Result<Trained, EvalError> {
    let (dir, data_dir) = (&job.dir, &job.data_dir);
    let marker = dir.join("trained.json");
    let mut stage = job.stage.clone();
    stage.data.annotations = data_dir.join("llava.json");
    stage.data.video_root = data_dir.clone();
    // What the cached model was trained from, and by which code: a change retrains.
    let key = serde_json::json!({
        "data": job.data_spec, "stage": stage, "base": base, "code": crate::version::code_id(),
        "init": init.map(|t| &t.key),
    });
    match read_json::<Trained>(&marker) {
        Ok(t) if t.key == key && t.checkpoint.exists() => return Ok(t),
        Ok(_) => std::fs::remove_dir_all(dir).map_err(EvalError::io(dir))?,
        Err(_) => {}
    }
    // An interrupted run resumes only when it was started for the same key.
    let started = dir.join("key.json");
    if dir.exists() && read_json::<serde_json::Value>(&started).ok().as_ref() != Some(&key) {
        std::fs::remove_dir_all(dir).map_err(EvalError::io(dir))?;
    }
    std::fs::create_dir_all(dir).map_err(EvalError::io(dir))?;
    write_json(&started, &key)?;
    let manifest = match Manifest::load(data_dir) {
        Ok(m) if m.spec == job.data_spec && m.code == crate::version::code_id() => m,
        _ => {
            eprintln!(
                "training set: building {} in {}",
                job.data_spec.kind(),
                data_dir.display()
            );
            let pb = bar(multi, "training set");
            let m = build_set(&job.data_spec, exp_path, data_dir, Some(&pb))?;
            pb.finish_and_clear();
            m
        }
    };
    eprintln!("training: {} (cached in {})", stage.name, dir.display());
    let from = init.map(|t| t.checkpoint.as_path());
    // Resume: an interrupted run of the same key continues from its last checkpoint.
    let outcome = run_stage::<B>(base, &stage, from, dir, true, device)
        .map_err(|e| train_err(exp_path, e))?;
    let t = Trained {
        checkpoint: outcome.checkpoint,
        steps: outcome.steps,
        final_loss: outcome.final_loss,
        samples: manifest.samples.len(),
        key,
    };
    write_json(&marker, &t)?;
    Ok(t)
}

/// A training error as an error of the experiment file's `train` key.
fn train_err(exp_path: &Path, e: hico_train::TrainError) -> EvalError {
    EvalError::Spec {
        path: exp_path.into(),
        key: "train".into(),
        message: e.to_string(),
    }
}
