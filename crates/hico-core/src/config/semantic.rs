//! Checks of a pipeline config against the model it builds: values each fine alone that
//! together would be ignored or break at run time. A drop after a layer the LLM does not
//! have (silently never happens), a dropout ratio that keeps no visual token. Each error
//! names the file and the key.

use std::path::{Path, PathBuf};

use super::*;
use crate::ConfigError;

/// What the checks need to know of the LLM.
#[derive(Debug, Clone, PartialEq, Eq)]
struct LlmFacts {
    /// Decoder layers.
    layers: usize,
    /// Where the layer count comes from, for messages.
    source: String,
}

impl PipelineConfig {
    /// Check the config against its model (see the module docs); `path` is the config file
    /// named in errors. Reads `config.json` of an `[llm] kind = "hf"` directory.
    pub fn check_model(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.into(),
            message,
        };
        let llm = llm_facts(&self.llm)?;
        if let KvCacheConfig::Dycoke(d) = &self.kv_cache
            && d.dycoke_l >= llm.layers
        {
            return Err(bad(
                "kv_cache.dycoke_l",
                format!(
                    "{} leaves no layer to prune: the LLM has {} decoder layers ({}), so it \
                     must be below {}",
                    d.dycoke_l, llm.layers, llm.source, llm.layers
                ),
            ));
        }
        let Some(stages) = staged(&self.dropout) else {
            return Ok(());
        };
        let fastv = matches!(self.dropout, DropoutConfig::Fastv(_));
        let remove_all = matches!(self.dropout, DropoutConfig::RemoveAll(_));
        let (layer_key, ratio_key) = match (fastv, remove_all) {
            (true, _) => ("dropout.layer", "dropout.ratio"),
            (_, true) => ("dropout.after_layer", "dropout.kind"),
            _ => ("dropout.layers", "dropout.ratios"),
        };
        if let Some(&l) = stages.layers.iter().find(|&&l| l >= llm.layers) {
            return Err(bad(
                layer_key,
                format!(
                    "a drop after layer {l} never happens: the LLM has {} decoder layers ({}), so drop layers must be below {}",
                    llm.layers, llm.source, llm.layers
                ),
            ));
        }
        if remove_all {
            // Keeping nothing is the point of the probe.
            return Ok(());
        }
        let (n, why) = self.min_visual_tokens();
        for (s, &r) in stages.ratios.iter().enumerate().skip(1) {
            let keep = (n as f64 * r) as usize;
            if keep == 0 {
                let what = match fastv {
                    true => format!("dropping {} of them", 1.0 - r),
                    false => format!("ratio {r} (stage {s})"),
                };
                return Err(bad(
                    ratio_key,
                    format!(
                        "{what} keeps no visual token of the {n} the shortest input gives ({why})"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The decoder layers of the configured LLM (from `config.json` of an `hf` directory,
    /// after checking its family).
    pub fn llm_layers(&self) -> Result<usize, ConfigError> {
        llm_facts(&self.llm).map(|f| f.layers)
    }

    /// The fewest visual tokens that enter the LLM for one video, and how they come about:
    /// the sampler's fewest frames (at least one clip) times the compressor's tokens per
    /// frame.
    pub fn min_visual_tokens(&self) -> (usize, String) {
        let l = self.video.clip_len.max(1);
        let (frames, from) = match &self.sampler {
            SamplerConfig::Duration { t_min, .. } => (*t_min, format!("sampler.t_min = {t_min}")),
            SamplerConfig::Uniform { frames } => (*frames, format!("sampler.frames = {frames}")),
            SamplerConfig::Fps { min_frames, .. }
            | SamplerConfig::DynamicFps { min_frames, .. } => {
                (*min_frames, format!("sampler.min_frames = {min_frames}"))
            }
        };
        let frames = (frames / l).max(1).saturating_mul(l);
        let grid = self.video.size / self.vision.patch_size.max(1);
        let per_frame = match &self.compressor {
            CompressorConfig::Identity => grid.saturating_mul(grid),
            CompressorConfig::Tome { tokens_per_frame }
            | CompressorConfig::TomeOrdered { tokens_per_frame }
            | CompressorConfig::Pool { tokens_per_frame }
            | CompressorConfig::Temporal {
                tokens_per_frame, ..
            } => *tokens_per_frame,
        };
        (
            frames.saturating_mul(per_frame),
            format!("{frames} frames by {from}, {per_frame} tokens per frame"),
        )
    }
}

/// The layer count of the configured LLM; for a Hugging Face directory, its `config.json`'s
/// `num_hidden_layers` (whether hico-llm has its family is hico-model's check,
/// `hico_model::load_config`).
fn llm_facts(llm: &LlmConfig) -> Result<LlmFacts, ConfigError> {
    let dir = match llm {
        LlmConfig::Random {
            num_hidden_layers, ..
        } => {
            return Ok(LlmFacts {
                layers: *num_hidden_layers,
                source: format!("llm.num_hidden_layers = {num_hidden_layers}"),
            });
        }
        LlmConfig::Hf { path, .. } => path,
    };
    let file: PathBuf = dir.join("config.json");
    let text = std::fs::read_to_string(&file).map_err(|source| ConfigError::Io {
        path: file.clone(),
        source,
    })?;
    let bad = |key: &str, message: String| ConfigError::Invalid {
        path: file.clone(),
        key: key.into(),
        message,
    };
    let json: serde_json::Value = serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
        path: file.clone(),
        message: e.to_string(),
    })?;
    let layers = json
        .get("num_hidden_layers")
        .and_then(|v| v.as_u64())
        .ok_or_else(|| bad("num_hidden_layers", "missing or not a whole number".into()))?;
    Ok(LlmFacts {
        layers: layers as usize,
        source: format!("{}: num_hidden_layers = {layers}", file.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> PipelineConfig {
        let text = include_str!("../../../../configs/tiny.toml");
        parse_toml(text, Path::new("tiny.toml")).unwrap()
    }

    fn err(cfg: &PipelineConfig) -> String {
        cfg.check_model(Path::new("c.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn tiny_passes() {
        tiny().check_model(Path::new("tiny.toml")).unwrap();
        assert_eq!(tiny().llm_layers().unwrap(), 4);
        // 8 frames (t_min) × 4 tokens per frame.
        assert_eq!(tiny().min_visual_tokens().0, 32);
    }

    fn staged(layers: Vec<usize>, ratios: Vec<f64>) -> DropoutConfig {
        DropoutConfig::Uniform0Attention(StagedDrop {
            layers,
            ratios,
            positions: Default::default(),
        })
    }

    #[test]
    fn drop_layers_beyond_the_llm_are_named() {
        let mut c = tiny();
        c.dropout = staged(vec![1, 9], vec![1.0, 0.5, 0.25]);
        let e = err(&c);
        assert!(
            e.contains("c.toml")
                && e.contains("`dropout.layers`")
                && e.contains("layer 9")
                && e.contains("llm.num_hidden_layers = 4"),
            "{e}"
        );
        // A drop after the last layer has no effect either.
        c.dropout = staged(vec![1, 4], vec![1.0, 0.5, 0.25]);
        assert!(err(&c).contains("layer 4"));
        c.dropout = DropoutConfig::Fastv(FastvDrop {
            layer: 7,
            ratio: 0.5,
            positions: Default::default(),
        });
        assert!(err(&c).contains("`dropout.layer`"));
    }

    #[test]
    fn a_dycoke_layer_beyond_the_llm_and_dycoke_with_dropout_are_named() {
        let mut c = tiny();
        c.kv_cache = KvCacheConfig::Dycoke(DycokeKv {
            dycoke_l: 4,
            ..DycokeKv::default()
        });
        let e = err(&c);
        assert!(
            e.contains("`kv_cache.dycoke_l`") && e.contains("below 4"),
            "{e}"
        );
        c.kv_cache = KvCacheConfig::Dycoke(DycokeKv::default());
        c.check_model(Path::new("c.toml")).unwrap();
        // tiny.toml drops visual tokens in the prefill.
        let e = c.validate(Path::new("c.toml")).unwrap_err().to_string();
        assert!(
            e.contains("`kv_cache.kind`") && e.contains("uniform0_attention"),
            "{e}"
        );
        c.dropout = DropoutConfig::None;
        c.validate(Path::new("c.toml")).unwrap();
        c.kv_cache = KvCacheConfig::Dycoke(DycokeKv {
            dycoke_l: 0,
            ..DycokeKv::default()
        });
        let e = c.validate(Path::new("c.toml")).unwrap_err().to_string();
        assert!(e.contains("`kv_cache.dycoke_l`"), "{e}");
    }

    #[test]
    fn remove_all_keeps_nothing_within_the_llm_depth() {
        let mut c = tiny();
        for after_layer in [0, 3] {
            c.dropout = DropoutConfig::RemoveAll(RemoveAllDrop {
                after_layer,
                positions: Default::default(),
            });
            c.check_model(Path::new("c.toml")).unwrap();
            c.validate(Path::new("c.toml")).unwrap();
        }
        c.dropout = DropoutConfig::RemoveAll(RemoveAllDrop {
            after_layer: 4,
            positions: Default::default(),
        });
        assert!(err(&c).contains("`dropout.after_layer`"), "{}", err(&c));
    }

    #[test]
    fn ratios_keeping_nothing_are_named() {
        let mut c = tiny();
        c.dropout = staged(vec![1, 3], vec![1.0, 0.5, 0.01]); // int(32 · 0.01) = 0
        let e = err(&c);
        assert!(
            e.contains("`dropout.ratios`") && e.contains("0.01") && e.contains("t_min = 8"),
            "{e}"
        );
        c.dropout = DropoutConfig::Fastv(FastvDrop {
            layer: 1,
            ratio: 0.99,
            positions: Default::default(),
        });
        assert!(err(&c).contains("`dropout.ratio`"));
    }

    #[test]
    fn hf_layer_count_is_read_from_config_json() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = tiny();
        c.llm = LlmConfig::Hf {
            path: dir.path().to_owned(),
            attention: Default::default(),
            attention_block: 256,
        };
        let file = dir.path().join("config.json");
        std::fs::write(&file, r#"{"model_type": "qwen2", "num_hidden_layers": 2}"#).unwrap();
        let e = err(&c);
        assert!(
            e.contains("layer 3") && e.contains("num_hidden_layers = 2"),
            "{e}"
        );
        std::fs::write(&file, r#"{"model_type": "qwen2", "num_hidden_layers": 24}"#).unwrap();
        c.check_model(Path::new("c.toml")).unwrap();
    }
}
