//! `[model]`: a pipeline built on a released model, as published.
//!
//! In a pipeline TOML, `[model] kind = "videochat_flash", path = "..."` stands for the
//! sections of the release's own inference; the weightless sections given beside it
//! (`video`, `sampler`, `compressor`, `dropout`, `kv_cache`, `prompt`, `generation`, `name`,
//! `seed`) override the release's (a table with another `kind` replaces the release's, one
//! with the same or no `kind` is merged key by key), so a grid can vary the compressor or the
//! dropout of a released model. The sections that hold weights (`vision`, `connector`,
//! `llm`) come from the release only.
//!
//! What a release's files mean (its `config.json` keys, checkpoint prefixes, where it is
//! found) is the release loader's knowledge, in hico-model (`hico_model::release`): it
//! implements [`Releases`], which [`pipeline_from_toml`] asks to expand a `[model]` table.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{PipelineConfig, from_value};
use crate::ConfigError;

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

/// What expands a `[model]` table: the pipeline config of a released model
/// (`hico_model::release::Formats` reads the release's files).
pub trait Releases {
    /// The pipeline config `source` stands for, with `model` set to the directory it was
    /// found at; `cfg_path` (the config file) is named in errors.
    fn pipeline(
        &self,
        source: &ModelSource,
        cfg_path: &Path,
    ) -> Result<PipelineConfig, ConfigError>;
}

/// Deserialize a pipeline config from parsed TOML; a `[model]` table is expanded into the
/// release's sections first (by `releases`), with the other tables of `root` laid over
/// them (see the module docs). `text` and `path` are for error messages.
pub fn pipeline_from_toml(
    mut root: toml::Value,
    text: &str,
    path: &Path,
    releases: &dyn Releases,
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
    let base = releases.pipeline(&source, path)?;
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
