//! Setting up a stage before its step loop: read the stage, build the pipeline, load the
//! starting weights (`init`, a resumed checkpoint or random), mark frozen parts, and make the
//! optimizer. Used by `trainer.rs` (which runs replicas) and `steps.rs` (the step loop);
//! depends on neither.

use hico_backend::HicoAutodiff;
use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use burn::{
    optim::{adaptor::OptimizerAdaptor, grad_clipping::GradientClippingConfig},
    prelude::*,
};
use hico_core::{config::PipelineConfig, lock::DirLock};
use hico_model::{Pipeline, VideoLlm};

use crate::{
    StageConfig, TrainError,
    checkpoint::{self, TrainState},
    data::{Sample, load_annotations},
    export,
    rng::TrainRng,
};

/// Knobs that are not part of a stage's science (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Return right after the checkpoint of this step (simulates an interruption).
    pub stop_after: Option<usize>,
    /// Override the stage's `checkpoint.progress`.
    pub progress: Option<bool>,
}

/// The optimizer of a stage: AdamW over the whole model.
pub(crate) type Optim<B> = OptimizerAdaptor<crate::optim::AdamW, VideoLlm<B>, B>;

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
    /// The output folder's lock, held while the stage runs (by the writing process).
    _lock: Option<DirLock>,
}

/// Read the stage, build the model, load `init` or the checkpoint to resume. Returns what the
/// replicas share and, apart, the starting weights (initial, `init`'s or the resumed
/// checkpoint's; frozen parts marked), which the caller hands on without keeping a copy:
/// a copy held for the whole stage would keep a second set of weights alive. Only the `lead`
/// process (rank 0 of a multi-process run, else the only one) locks `out_dir` and writes to
/// it; the others only read its checkpoints.
pub(crate) fn prepare<B: HicoAutodiff>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
    lead: bool,
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
    let lock = match lead {
        true => {
            let lock = DirLock::acquire(out_dir, "hico train")
                .map_err(|e| TrainError::Invalid(e.to_string()))?;
            checkpoint::write_json(&out_dir.join("stage.json"), stage)?;
            checkpoint::write_json(&out_dir.join("pipeline.json"), &cfg)?;
            Some(lock)
        }
        // Where this rank logs skipped samples.
        false => {
            std::fs::create_dir_all(out_dir).map_err(crate::error::io(out_dir))?;
            None
        }
    };

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
            pipe = pipe.map_model(|m| checkpoint::load_weights(m, &dir, device))?;
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
                pipe = pipe.map_model(|m| checkpoint::load_weights(m, &dir, device))?;
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
    pipe = pipe.map_model(|m| Ok::<_, TrainError>(freeze(m, stage)))?;
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
pub(crate) fn optimizer<B: HicoAutodiff>(stage: &StageConfig) -> Optim<B> {
    let clipping = stage
        .optim
        .clip_norm
        .map(|c| GradientClippingConfig::Norm(c as f32));
    crate::optim::AdamW::new(1e-8, stage.optim.weight_decay as f32).init(clipping)
}

/// Mark the parts the stage does not train as `no_grad`.
fn freeze<B: HicoAutodiff>(mut m: VideoLlm<B>, stage: &StageConfig) -> VideoLlm<B> {
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
