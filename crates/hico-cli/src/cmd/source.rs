//! `--config` / `--model`: where the commands that build a pipeline get it from.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use hico_core::config::{PipelineConfig, parse_toml_value, pipeline_from_toml};

/// The pipeline of `hico run`, `encode` and `niah eval`: a config file, a released model,
/// or both (the config's weightless sections then override the release's).
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineSource {
    /// Pipeline config (TOML). With `--model`, its weightless sections (video, sampler,
    /// compressor, dropout, prompt, generation) override the release's.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// A released VideoChat-Flash model: its directory as published, or a hub id
    /// (`OpenGVLab/VideoChat-Flash-Qwen2_5-2B_res448`) in the local Hugging Face cache
    /// (`$HF_HOME/hub`); never downloaded.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

/// `[model] kind = "videochat_flash", path = ...` as a TOML table.
pub fn model_table(path: &Path) -> toml::Value {
    let mut t = toml::Table::new();
    t.insert("kind".into(), "videochat_flash".into());
    t.insert("path".into(), path.to_string_lossy().into_owned().into());
    toml::Value::Table(t)
}

impl PipelineSource {
    /// What the pipeline came from, for messages.
    pub fn describe(&self) -> String {
        match (&self.config, &self.model) {
            (Some(c), Some(m)) => format!("{} on {}", c.display(), m.display()),
            (Some(c), None) => c.display().to_string(),
            (None, Some(m)) => m.display().to_string(),
            (None, None) => "<none>".into(),
        }
    }

    /// Resolve and validate the pipeline config.
    pub fn load(&self) -> Result<PipelineConfig> {
        let Some(model) = &self.model else {
            let Some(config) = &self.config else {
                bail!("give --config FILE, --model DIR (a released model), or both");
            };
            return Ok(hico_model::load_config(config)?);
        };
        let (mut root, text, path) = match &self.config {
            Some(c) => {
                let text = std::fs::read_to_string(c)
                    .map_err(|e| anyhow::anyhow!("cannot read config {}: {e}", c.display()))?;
                (parse_toml_value(&text, c)?, text, c.clone())
            }
            None => (
                toml::Value::Table(Default::default()),
                String::new(),
                PathBuf::from("--model"),
            ),
        };
        let table = root.as_table_mut().expect("a TOML document is a table");
        if table.contains_key("model") {
            bail!(
                "{}: has a [model] section and --model was given; keep one",
                path.display()
            );
        }
        table.insert("model".into(), model_table(model));
        let cfg = pipeline_from_toml(root, &text, &path, &hico_model::release::Formats)?;
        hico_model::validate_config(&cfg, &path)?;
        Ok(cfg)
    }
}
