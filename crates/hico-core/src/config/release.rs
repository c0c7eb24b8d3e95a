//! `[model]`: a pipeline built on a released VideoChat-Flash model, as published.
//!
//! A release directory holds `config.json` (Qwen2 keys plus the `mm_*` / `llm_compress_*`
//! keys), `generation_config.json`, `tokenizer.json` and `model.safetensors` (or shards with
//! `model.safetensors.index.json`) with the vision tower, projector and LLM together.
//! [`release_pipeline`] maps every `config.json` key that changes the computation to the
//! pipeline config the release's own inference (`chat()`) runs, and refuses, naming the key
//! and the value, every setting hico does not implement. [`resolve_model_dir`] accepts a
//! directory or a hub id already in the local Hugging Face cache (never downloaded).
//!
//! In a pipeline TOML, `[model] kind = "videochat_flash", path = "..."` stands for those
//! sections; the weightless sections given beside it (`video`, `sampler`, `compressor`,
//! `dropout`, `kv_cache`, `prompt`, `generation`, `name`, `seed`) override the release's (a table
//! with another `kind` replaces the release's, one with the same or no `kind` is merged key
//! by key), so a grid can vary the compressor or the dropout of a released model. The
//! sections that hold weights (`vision`, `connector`, `llm`) come from the release only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::release_map::{generation, map_config};
use super::{PipelineConfig, from_value};
use crate::ConfigError;

/// Key prefix of the vision tower in a release checkpoint.
/// `model_type` of a VideoChat-Flash release `config.json` (its decoder is a Qwen2).
pub const RELEASE_MODEL_TYPE: &str = "videochat_flash_qwen";
/// `architectures[0]` of a release `config.json`.
pub const RELEASE_ARCHITECTURE: &str = "VideoChatFlashQwenForCausalLM";

pub const VISION_PREFIX: &str = "model.vision_tower.vision_tower.encoder.";
/// Key prefix of the projector (the connector) in a release checkpoint.
pub const PROJECTOR_PREFIX: &str = "model.mm_projector.";

/// A released model the pipeline is built on (`[model]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSource {
    /// A VideoChat-Flash release: a directory as published, or a hub id
    /// (`OpenGVLab/VideoChat-Flash-Qwen2_5-2B_res448`) found in the local Hugging Face
    /// cache. In a resolved config, the directory it was found at.
    VideochatFlash {
        /// Directory or hub id.
        path: PathBuf,
    },
}

impl ModelSource {
    /// The directory (or, before resolution, the hub id).
    pub fn path(&self) -> &Path {
        match self {
            Self::VideochatFlash { path } => path,
        }
    }
}

/// Sections of a pipeline config that a `[model]` release provides and a config may not
/// override (they hold the release's weights).
const WEIGHT_SECTIONS: [&str; 3] = ["vision", "connector", "llm"];

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

/// Deserialize a pipeline config from parsed TOML; a `[model]` table is expanded into the
/// release's sections first, with the other tables of `root` laid over them (see the
/// module docs). `text` and `path` are for error messages.
pub fn pipeline_from_toml(
    mut root: toml::Value,
    text: &str,
    path: &Path,
) -> Result<PipelineConfig, ConfigError> {
    let Some(model) = root.as_table_mut().and_then(|t| t.remove("model")) else {
        return from_value(root, text, path);
    };
    let wrapped = toml::Value::Table([("model".to_string(), model)].into_iter().collect());
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Only {
        model: ModelSource,
    }
    let source = from_value::<Only>(wrapped, text, path)?.model;
    let dir = resolve_model_dir(source.path(), path)?;
    let base = release_pipeline(&dir)?;
    let mut merged = toml::Value::try_from(&base).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: format!("release config as TOML: {e}"),
    })?;
    let table = root.as_table().cloned().unwrap_or_default();
    for (key, value) in table {
        if WEIGHT_SECTIONS.contains(&key.as_str()) {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                key,
                message: "comes from the `[model]` release (its weights); remove this section"
                    .into(),
            });
        }
        overlay(&mut merged, key, value);
    }
    from_value(merged, text, path)
}

/// Lay `value` over `base[key]`: tables with the same (or no) `kind` merge key by key,
/// anything else replaces.
fn overlay(base: &mut toml::Value, key: String, value: toml::Value) {
    let table = base.as_table_mut().expect("a config is a table");
    match (table.get_mut(&key), value) {
        (Some(toml::Value::Table(old)), toml::Value::Table(new))
            if new.get("kind").is_none_or(|k| old.get("kind") == Some(k)) =>
        {
            for (k, v) in new {
                old.insert(k, v);
            }
        }
        (_, value) => {
            table.insert(key, value);
        }
    }
}
