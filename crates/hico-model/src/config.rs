//! Pipeline config files loaded as hico runs them: hico-core parses and checks the values,
//! this crate adds what hico-core cannot know: a `[model]` table is expanded by the release
//! loader ([`crate::release::Formats`]) and an `[llm] kind = "hf"` directory must hold a
//! decoder family hico-llm has (checked against its one table, `hico_llm::family`), so that
//! an unsupported one is named at load time rather than surfacing as missing tensors.

use std::path::Path;

use hico_core::ConfigError;
use hico_core::config::{LlmConfig, PipelineConfig};

use crate::release::{Formats, RELEASE_MODEL_TYPE};

/// Load, expand and check a pipeline config file ([`PipelineConfig::load`] with the release
/// loader, then [`check_llm_family`]).
pub fn load_config(path: &Path) -> Result<PipelineConfig, ConfigError> {
    let cfg = PipelineConfig::load(path, &Formats)?;
    check_llm_family(&cfg)?;
    Ok(cfg)
}

/// [`PipelineConfig::validate`] and [`check_llm_family`]: every check of a config built in
/// code or expanded from a grid; `path` is named in errors.
pub fn validate_config(cfg: &PipelineConfig, path: &Path) -> Result<(), ConfigError> {
    cfg.validate(path)?;
    check_llm_family(cfg)
}

/// For an `[llm] kind = "hf"` directory: its `config.json` names a decoder family hico-llm
/// loads (by `model_type`, else by `architectures[0]`), or is a VideoChat-Flash release
/// (whose decoder is a Qwen2). The error names the file, the key and the supported families.
pub fn check_llm_family(cfg: &PipelineConfig) -> Result<(), ConfigError> {
    let LlmConfig::Hf { path: dir, .. } = &cfg.llm else {
        return Ok(());
    };
    let file = dir.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Io {
        path: file.clone(),
        source,
    })?;
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
        path: file.clone(),
        message: e.to_string(),
    })?;
    let Some(hf) = json.as_object() else {
        return Err(ConfigError::Parse {
            path: file,
            message: "not a JSON object".into(),
        });
    };
    if hf.get("model_type").and_then(|v| v.as_str()) == Some(RELEASE_MODEL_TYPE) {
        return Ok(());
    }
    hico_llm::family::detect(hf)
        .map(|_| ())
        .map_err(|(key, value)| {
            let families = hico_llm::family::FAMILIES
                .iter()
                .map(|f| format!("`{}` ({})", f.model_type(), f.architecture()))
                .collect::<Vec<_>>()
                .join(", ");
            ConfigError::Invalid {
                path: file.clone(),
                key: key.clone(),
                message: format!(
                    "{key} `{value}` names no decoder family hico loads (supported: {families})"
                ),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An HF directory of another family is named with the supported ones; a supported one
    /// and a release pass.
    #[test]
    fn unsupported_hf_family_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let text = include_str!("../../../configs/tiny.toml");
        let mut c: PipelineConfig =
            hico_core::config::parse_toml(text, Path::new("tiny.toml")).unwrap();
        c.llm = LlmConfig::Hf {
            path: dir.path().to_owned(),
            attention: Default::default(),
            attention_block: 256,
        };
        let file = dir.path().join("config.json");
        let err = |c: &PipelineConfig| check_llm_family(c).unwrap_err().to_string();
        std::fs::write(&file, r#"{"model_type": "gpt2", "num_hidden_layers": 32}"#).unwrap();
        let e = err(&c);
        assert!(
            e.contains("config.json") && e.contains("model_type `gpt2`") && e.contains("`qwen2`"),
            "{e}"
        );
        std::fs::write(&file, r#"{"architectures": ["GPT2LMHeadModel"]}"#).unwrap();
        let e = err(&c);
        assert!(
            e.contains("GPT2LMHeadModel") && e.contains("Qwen2ForCausalLM"),
            "{e}"
        );
        std::fs::write(&file, r#"{"model_type": "llama", "num_hidden_layers": 24}"#).unwrap();
        check_llm_family(&c).unwrap();
        let release = format!(r#"{{"model_type": "{RELEASE_MODEL_TYPE}"}}"#);
        std::fs::write(&file, release).unwrap();
        check_llm_family(&c).unwrap();
    }
}
