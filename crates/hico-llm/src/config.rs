//! [`Qwen2Config`]: the Hugging Face `config.json` of a Qwen2 / Qwen2.5 model, with HF
//! field names. Unknown fields are kept (and written back by `save_hf`).

use std::path::Path;

use hico_core::LlmShape;
use serde::{Deserialize, Serialize};

use crate::LlmError;

/// HF `config.json` of a Qwen2 decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Qwen2Config {
    /// Vocabulary size (rows of `embed_tokens`).
    pub vocab_size: usize,
    /// Hidden width.
    pub hidden_size: usize,
    /// MLP inner width.
    pub intermediate_size: usize,
    /// Decoder layers.
    pub num_hidden_layers: usize,
    /// Query heads.
    pub num_attention_heads: usize,
    /// Key/value heads (grouped-query attention); defaults to `num_attention_heads`.
    #[serde(default)]
    pub num_key_value_heads: Option<usize>,
    /// Rotary base. transformers 5 writes it inside `rope_parameters` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_theta: Option<f64>,
    /// RMSNorm epsilon.
    #[serde(default = "default_eps")]
    pub rms_norm_eps: f64,
    /// Share the embedding matrix with the output head.
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// Every other HF field, kept verbatim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

fn default_eps() -> f64 {
    1e-6
}

impl Qwen2Config {
    /// A config from the shape fields of the pipeline's `[llm] kind = "random"`.
    #[allow(clippy::too_many_arguments)]
    pub fn tiny(
        vocab_size: usize,
        hidden_size: usize,
        intermediate_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        num_key_value_heads: usize,
        rope_theta: f64,
        rms_norm_eps: f64,
        tie_word_embeddings: bool,
    ) -> Self {
        let mut extra = serde_json::Map::new();
        extra.insert("model_type".into(), "qwen2".into());
        extra.insert(
            "architectures".into(),
            serde_json::json!(["Qwen2ForCausalLM"]),
        );
        extra.insert("hidden_act".into(), "silu".into());
        Self {
            vocab_size,
            hidden_size,
            intermediate_size,
            num_hidden_layers,
            num_attention_heads,
            num_key_value_heads: Some(num_key_value_heads),
            rope_theta: Some(rope_theta),
            rms_norm_eps,
            tie_word_embeddings,
            extra,
        }
    }

    /// Read `config.json`; errors name the file and the field.
    pub fn from_file(path: &Path) -> Result<Self, LlmError> {
        let text = std::fs::read_to_string(path).map_err(|source| LlmError::Io {
            path: path.to_owned(),
            source,
        })?;
        let cfg: Self = serde_json::from_str(&text).map_err(|e| LlmError::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let bad = |message: String| LlmError::Config {
            path: path.to_owned(),
            message,
        };
        if cfg.num_attention_heads == 0 || !cfg.hidden_size.is_multiple_of(cfg.num_attention_heads)
        {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                cfg.hidden_size, cfg.num_attention_heads
            )));
        }
        if cfg.kv_heads() == 0 || !cfg.num_attention_heads.is_multiple_of(cfg.kv_heads()) {
            return Err(bad(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                cfg.num_attention_heads,
                cfg.kv_heads()
            )));
        }
        if cfg
            .extra
            .get("use_sliding_window")
            .and_then(|v| v.as_bool())
            == Some(true)
        {
            return Err(bad(
                "use_sliding_window = true is not supported (full attention only)".into(),
            ));
        }
        Ok(cfg)
    }

    /// Key/value heads.
    pub fn kv_heads(&self) -> usize {
        self.num_key_value_heads.unwrap_or(self.num_attention_heads)
    }

    /// Width of one head.
    pub fn head_dim(&self) -> usize {
        self.extra
            .get("head_dim")
            .and_then(|v| v.as_u64())
            .map_or(self.hidden_size / self.num_attention_heads, |d| d as usize)
    }

    /// Rotary base: `rope_theta`, else `rope_parameters.rope_theta`, else 10000 (HF's default).
    pub fn theta(&self) -> f64 {
        self.rope_theta
            .or_else(|| {
                self.extra
                    .get("rope_parameters")
                    .and_then(|r| r.get("rope_theta"))
                    .and_then(|t| t.as_f64())
            })
            .unwrap_or(10_000.0)
    }

    /// Shape facts for ledgers.
    pub fn shape(&self) -> LlmShape {
        LlmShape {
            vocab: self.vocab_size,
            hidden: self.hidden_size,
            intermediate: self.intermediate_size,
            layers: self.num_hidden_layers,
            heads: self.num_attention_heads,
            kv_heads: self.kv_heads(),
            head_dim: self.head_dim(),
        }
    }
}
