//! Training before the grid, once: generate a training set of the benchmark's kind (another
//! seed), train the experiment's base pipeline with its hico-train stage config, and cache
//! the result (`OUT/train/trained.json`); later runs reuse the checkpoint while the training
//! set spec, stage, base config and hico's version and commit are unchanged (a change
//! retrains from scratch).

use std::path::{Path, PathBuf};

use burn::tensor::{Device, backend::AutodiffBackend};
use hico_train::{StageConfig, run_stage};
use indicatif::MultiProgress;
use serde::{Deserialize, Serialize};

use super::{experiment::Experiment, runner::bar};
use crate::{
    EvalError,
    bench::{Manifest, build_set},
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

/// The checkpoint to evaluate: `None` when the experiment has no `[train]`; otherwise the
/// cached one, or a fresh training run (resumed if interrupted).
pub fn ensure_trained<B: AutodiffBackend>(
    exp: &Experiment,
    exp_path: &Path,
    out: &Path,
    multi: &MultiProgress,
    device: &Device<B>,
) -> Result<Option<Trained>, EvalError> {
    let Some(spec) = &exp.train else {
        return Ok(None);
    };
    let dir = out.join("train");
    let marker = dir.join("trained.json");
    let data_dir = out.join("train_data");
    let data_spec = spec.data_spec(&exp.benchmark, exp_path)?;
    let train_err = |e: hico_train::TrainError| EvalError::Spec {
        path: exp_path.into(),
        key: "train".into(),
        message: e.to_string(),
    };
    let mut stage = StageConfig::load(&spec.stage).map_err(train_err)?;
    stage.data.annotations = data_dir.join("llava.json");
    stage.data.video_root = data_dir.clone();
    let base = exp.base_config(exp_path)?;
    // What the cached model was trained from, and by which code: a change retrains.
    let key = serde_json::json!({
        "data": data_spec, "stage": stage, "base": base, "code": crate::version::code_id(),
    });
    match read_json::<Trained>(&marker) {
        Ok(t) if t.key == key && t.checkpoint.exists() => return Ok(Some(t)),
        Ok(_) => std::fs::remove_dir_all(&dir).map_err(EvalError::io(&dir))?,
        Err(_) => {}
    }
    // An interrupted run resumes only when it was started for the same key.
    let started = dir.join("key.json");
    if dir.exists() && read_json::<serde_json::Value>(&started).ok().as_ref() != Some(&key) {
        std::fs::remove_dir_all(&dir).map_err(EvalError::io(&dir))?;
    }
    std::fs::create_dir_all(&dir).map_err(EvalError::io(&dir))?;
    write_json(&started, &key)?;
    let manifest = match Manifest::load(&data_dir) {
        Ok(m) if m.spec == data_spec && m.code == crate::version::code_id() => m,
        _ => {
            eprintln!(
                "training set: building {} in {}",
                data_spec.kind(),
                data_dir.display()
            );
            let pb = bar(multi, "training set");
            let m = build_set(&data_spec, exp_path, &data_dir, Some(&pb))?;
            pb.finish_and_clear();
            m
        }
    };
    eprintln!("training: {} (cached in {})", stage.name, dir.display());
    let outcome = run_stage::<B>(&base, &stage, None, &dir, true, device).map_err(train_err)?;
    let t = Trained {
        checkpoint: outcome.checkpoint,
        steps: outcome.steps,
        final_loss: outcome.final_loss,
        samples: manifest.samples.len(),
        key,
    };
    write_json(&marker, &t)?;
    Ok(Some(t))
}
