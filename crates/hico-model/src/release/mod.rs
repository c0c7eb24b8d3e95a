//! Released VideoChat-Flash models as published: the three parts (vision tower, projector,
//! LLM) loaded from the release's one checkpoint, and written back in its format.
//!
//! The config side (directory / hub-cache resolution, `config.json` → pipeline config with
//! refusals, `generation_config.json`) is [`config`] (the format's facts: model type,
//! checkpoint prefixes) and [`config_map`] (key by key); a resolved config with `model` set
//! is loaded here by [`load_model`] (what [`Pipeline::new`](crate::Pipeline::new) calls). Keys, by part ([`hico_weights::Weights`] walks, one [`Loader`], one
//! `finish`):
//!
//! | part | prefix | key map |
//! |---|---|---|
//! | vision tower | `model.vision_tower.vision_tower.encoder.` | [`UmtEncoder`]'s (`hico_vision::encoder`) |
//! | projector | `model.mm_projector.` | [`Connector`]'s (`mlp.0`, `mlp.2`) |
//! | LLM | none (`model.embed_tokens`, `model.layers.N.*`, `model.norm`, `lm_head`) | the LLM's |
//!
//! Keys some release revisions carry and `chat()` never uses are accepted and ignored:
//! `model.mm_projector.tvg_mlp.*`, `visual_head.weight`, `model.image_newline`. The writers
//! ([`write_release`], [`write_random_release`]) store the first two as zeros: the current
//! revision of the release's remote code defines them, and loads without a missing key.

pub mod config;
pub mod config_map;
mod export;
mod random;

pub use config::{
    Formats, PROJECTOR_PREFIX, RELEASE_ARCHITECTURE, RELEASE_MODEL_TYPE, VISION_PREFIX,
    release_pipeline, resolve_model_dir, resolve_model_dir_in,
};
pub use export::{ExportOptions, release_config_json, walk_release, write_release};
pub use random::write_random_release;

use hico_backend::HicoBackend;
use std::path::Path;

use burn::prelude::*;
use hico_core::config::PipelineConfig;
use hico_llm::{AttentionOptions, CausalLm, HicoTokenizer, LlmSpec};
use hico_vision::{Connector, UmtEncoder};
use hico_weights::{Loader, WeightFiles, Weights};

use crate::{ModelError, VideoLlm};

/// Whether a release key is one no part reads and `chat()` never uses (see the module docs).
pub fn ignored_key(key: &str) -> bool {
    key.starts_with("model.mm_projector.tvg_mlp.")
        || key == "visual_head.weight"
        || key == "model.image_newline"
}

/// The LLM part of a release `config.json`: a Qwen2 decoder whatever its `model_type`
/// (`videochat_flash_qwen`), with plain rotary: the release's decoder
/// (`modeling_qwen2_flash.py`) never reads `rope_scaling`, so a value there changes nothing.
pub fn llm_spec(dir: &Path) -> Result<LlmSpec, ModelError> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io {
        path: path.clone(),
        source,
    })?;
    let mut json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| ModelError::Invalid(format!("{}: not JSON: {e}", path.display())))?;
    if let Some(m) = json.as_object_mut() {
        m.remove("rope_scaling");
        m.remove("rope_parameters");
    }
    Ok(LlmSpec::from_json_as("qwen2", json, &path)?)
}

/// Load the weights of the release in `dir` for the resolved config `cfg` (whose sections
/// came from that release): every tensor converted one at a time to f32 (bf16, f16 or f32
/// on disk, sharded or not); every missing, unexpected and mis-shaped tensor of all three
/// parts reported in one error.
pub fn load_model<B: HicoBackend>(
    cfg: &PipelineConfig,
    dir: &Path,
    device: &Device<B>,
) -> Result<(VideoLlm<B>, HicoTokenizer), ModelError> {
    if let Some(ckpt) = &cfg.vision.checkpoint {
        return Err(ModelError::Invalid(format!(
            "vision.checkpoint = {} cannot be combined with [model]: the release holds the vision tower",
            ckpt.display()
        )));
    }
    let spec = llm_spec(dir)?;
    let tokenizer = HicoTokenizer::from_file(&dir.join("tokenizer.json"))?;
    let files = WeightFiles::open_dir(dir)?;
    let mut loader = Loader::new(&files, device);
    let mut encoder = UmtEncoder::new(&cfg.vision, device);
    encoder.walk(VISION_PREFIX, &mut loader);
    let mut connector = Connector::new(&cfg.connector, cfg.vision.width, spec.hidden_size, device);
    connector.walk(PROJECTOR_PREFIX, &mut loader);
    let (implementation, block) = cfg.llm.attention();
    let llm =
        CausalLm::load_with(&spec, "", &mut loader, device).with_attention(AttentionOptions {
            implementation,
            block,
        });
    loader.finish(|k| ignored_key(k) || spec.ignorable(k))?;
    Ok((
        VideoLlm {
            encoder,
            connector,
            llm,
        },
        tokenizer,
    ))
}
