//! The release format's facts: what a VideoChat-Flash release directory holds and what its
//! `config.json` means.
//!
//! A release directory holds `config.json` (Qwen2 keys plus the `mm_*` / `llm_compress_*`
//! keys), `generation_config.json`, `tokenizer.json` and `model.safetensors` (or shards with
//! `model.safetensors.index.json`) with the vision tower, projector and LLM together.
//! [`release_pipeline`] maps every `config.json` key that changes the computation to the
//! pipeline config the release's own inference (`chat()`) runs, and refuses, naming the key
//! and the value, every setting hico does not implement ([`super::config_map`]).
//! [`resolve_model_dir`] accepts a directory or a hub id already in the local Hugging Face
//! cache (never downloaded). [`Formats`] is what hico-core's config loader asks to expand a
//! `[model]` table (`hico_core::config::Releases`).

use std::path::{Path, PathBuf};

use hico_core::ConfigError;
use hico_core::config::{ModelSource, PipelineConfig, Releases};

use super::config_map::{generation, map_config};

/// `model_type` of a VideoChat-Flash release `config.json` (its decoder is a Qwen2).
pub const RELEASE_MODEL_TYPE: &str = "videochat_flash_qwen";
/// `architectures[0]` of a release `config.json`.
pub const RELEASE_ARCHITECTURE: &str = "VideoChatFlashQwenForCausalLM";
/// Key prefix of the vision tower in a release checkpoint.
pub const VISION_PREFIX: &str = "model.vision_tower.vision_tower.encoder.";
/// Key prefix of the projector (the connector) in a release checkpoint.
pub const PROJECTOR_PREFIX: &str = "model.mm_projector.";

/// The released formats hico reads: `[model] kind = "videochat_flash"`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Formats;

impl Releases for Formats {
    fn pipeline(
        &self,
        source: &ModelSource,
        cfg_path: &Path,
    ) -> Result<PipelineConfig, ConfigError> {
        match source {
            ModelSource::VideochatFlash { path } => {
                release_pipeline(&resolve_model_dir(path, cfg_path)?)
            }
        }
    }
}

/// The local Hugging Face hub cache: `$HF_HUB_CACHE`, else `$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`.
pub fn hub_cache() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("HF_HUB_CACHE") {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os("HF_HOME") {
        return Some(PathBuf::from(p).join("hub"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
}

/// The directory of a release: `spec` itself when it is a directory, else a hub id
/// `org/name` resolved in the local cache ([`hub_cache`]) as
/// `models--org--name/snapshots/<rev>/` with `<rev>` read from `refs/main`. Nothing is
/// downloaded. `cfg_path` is named in errors.
pub fn resolve_model_dir(spec: &Path, cfg_path: &Path) -> Result<PathBuf, ConfigError> {
    resolve_model_dir_in(spec, hub_cache().as_deref(), cfg_path)
}

/// [`resolve_model_dir`] with the hub cache given (`None`: none known).
pub fn resolve_model_dir_in(
    spec: &Path,
    cache: Option<&Path>,
    cfg_path: &Path,
) -> Result<PathBuf, ConfigError> {
    if spec.is_dir() {
        return Ok(spec.to_owned());
    }
    let bad = |message: String| ConfigError::Invalid {
        path: cfg_path.to_owned(),
        key: "model.path".into(),
        message,
    };
    let text = spec.to_string_lossy();
    let parts: Vec<&str> = text.split('/').collect();
    let is_id = parts.len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && *p != ".."
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        });
    if !is_id {
        return Err(bad(format!(
            "`{text}` is not a directory (nor a hub id `org/name`)"
        )));
    }
    let cache = cache
        .ok_or_else(|| bad("no HF_HUB_CACHE, HF_HOME or HOME to find the hub cache".into()))?;
    let repo = cache.join(format!("models--{}--{}", parts[0], parts[1]));
    let refs = repo.join("refs/main");
    let rev = std::fs::read_to_string(&refs).map_err(|e| {
        bad(format!(
            "`{text}` is neither a directory nor in the local Hugging Face cache ({}: {e}); \
             hico never downloads: fetch it with your usual tool first",
            refs.display()
        ))
    })?;
    let snap = repo.join("snapshots").join(rev.trim());
    if !snap.is_dir() {
        return Err(bad(format!(
            "{} names revision {}, but {} is not a directory",
            refs.display(),
            rev.trim(),
            snap.display()
        )));
    }
    Ok(snap)
}

fn read_json(path: &Path) -> Result<serde_json::Value, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: format!("not JSON: {e}"),
    })
}

/// The pipeline config of the release in `dir` (its `config.json` and, when present,
/// `generation_config.json`), with `model` set to `dir`.
pub fn release_pipeline(dir: &Path) -> Result<PipelineConfig, ConfigError> {
    let path = dir.join("config.json");
    let json = read_json(&path)?;
    let mut cfg = map_config(&json, dir, &path)?;
    let gen_path = dir.join("generation_config.json");
    if gen_path.exists() {
        cfg.generation = generation(&read_json(&gen_path)?, &gen_path)?;
    }
    cfg.model = Some(ModelSource::VideochatFlash {
        path: dir.to_owned(),
    });
    Ok(cfg)
}
