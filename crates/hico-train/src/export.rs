//! The trained model on disk and back: `<out>/final/` holds
//!
//! - `model.mpk`: the whole [`VideoLlm`](hico_model::VideoLlm) (encoder, connector, LLM) as
//!   a burn record, what [`load_trained`] (and `hico run --checkpoint`) reads,
//! - `pipeline.json`: the pipeline config the stage ran (its frame bounds and resolution),
//! - `llm_hf/`: the LLM alone in the Hugging Face layout (`config.json`,
//!   `model.safetensors`), loadable by `transformers`' `AutoModelForCausalLM` (the LLM's own family).

use hico_backend::HicoBackend;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use hico_core::config::PipelineConfig;
use hico_model::Pipeline;

use crate::{TrainError, checkpoint};

/// Write the final model folder (atomically per file).
pub fn write_final<B: HicoBackend>(pipe: &Pipeline<B>, dir: &Path) -> Result<(), TrainError> {
    checkpoint::save_weights(&pipe.model, dir)?;
    checkpoint::write_json(&dir.join("pipeline.json"), &pipe.cfg)?;
    pipe.model
        .llm
        .save_hf(&dir.join("llm_hf"))
        .map_err(|e| TrainError::Model(format!("exporting the LLM to {}: {e}", dir.display())))
}

/// The folder holding `model.mpk` for `path`: the path itself (a final folder or a
/// checkpoint), `path/final`, or the latest checkpoint under `path/checkpoints`.
pub fn resolve_weights(path: &Path) -> Result<PathBuf, TrainError> {
    if path.join("model.mpk").exists() {
        // A checkpoint folder carries a manifest: refuse a damaged one.
        crate::manifest::verify(path)?;
        return Ok(path.to_owned());
    }
    if path.join("final/model.mpk").exists() {
        return Ok(path.join("final"));
    }
    if let Some(dir) = checkpoint::resume_point(&path.join("checkpoints"))? {
        return Ok(dir);
    }
    Err(TrainError::Checkpoint {
        path: path.to_owned(),
        message: "no model.mpk here, in final/, or in checkpoints/ (expected a stage output folder, its final/ folder or a checkpoint)".into(),
    })
}

/// Build the pipeline of `pipeline` and load trained weights from `checkpoint` (a stage
/// output folder, its `final/` folder or a checkpoint folder).
pub fn load_trained<B: HicoBackend>(
    pipeline: &PipelineConfig,
    checkpoint: &Path,
    device: &Device<B>,
) -> Result<Pipeline<B>, TrainError> {
    let dir = resolve_weights(checkpoint)?;
    let pipe = Pipeline::<B>::new(pipeline.clone(), device)
        .map_err(|e| TrainError::Model(format!("building the pipeline: {e}")))?;
    pipe.map_model(|m| checkpoint::load_weights(m, &dir, device))
}
