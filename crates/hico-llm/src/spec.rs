//! [`LlmSpec`]: what hico needs to know about a decoder, read from a Hugging Face
//! `config.json` by one code path for every family. The common fields (HF names) are read
//! here; the family (from `model_type`, see [`crate::family`]) says which optional parts its
//! layers have (biases, q/k norms). The whole `config.json` is kept and written back on save.

use std::path::Path;

use hico_core::LlmShape;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::LlmError;
use crate::family::{self, Family};
use crate::rotary::RopeScaling;

/// Optional parts of a decoder layer, fixed by the family (and some of its config keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts {
    /// Biases on the q, k and v projections (Qwen2; LLaMA's `attention_bias`).
    pub qkv_bias: bool,
    /// Bias on the output projection (LLaMA's `attention_bias`).
    pub o_bias: bool,
    /// Biases on the MLP projections (LLaMA's `mlp_bias`).
    pub mlp_bias: bool,
    /// RMSNorm over each query and key head before the rotary step (Qwen3's `q_norm`,
    /// `k_norm`).
    pub qk_norm: bool,
}

/// A decoder's shape, rotary embedding, optional parts and original `config.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmSpec {
    /// The family's Hugging Face `model_type` (`"qwen2"`, `"llama"`, `"qwen3"`).
    pub family: &'static str,
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
    /// Key/value heads (grouped-query attention).
    pub num_key_value_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// Share the embedding matrix with the output head.
    pub tie_word_embeddings: bool,
    /// Rotary base.
    pub rope_theta: f64,
    /// Rotary frequency scaling (`None`: plain rotary).
    pub rope_scaling: Option<RopeScaling>,
    /// Positions the model was configured for (sizes the precomputed rotary table).
    pub max_position_embeddings: usize,
    /// Optional parts of the layers.
    pub parts: Parts,
    /// `eos_token_id` of the config (one id or a list), for stopping generation.
    pub eos_token_ids: Vec<u32>,
    /// The `config.json` it was read from, kept verbatim and written back by `save_hf`.
    pub hf: Map<String, Value>,
}

/// The fields every supported family shares, with Hugging Face's names.
#[derive(Deserialize)]
struct Common {
    vocab_size: usize,
    hidden_size: usize,
    intermediate_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default)]
    num_key_value_heads: Option<usize>,
    #[serde(default)]
    head_dim: Option<usize>,
    #[serde(default = "default_eps")]
    rms_norm_eps: f64,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    max_position_embeddings: Option<usize>,
    #[serde(default)]
    hidden_act: Option<String>,
    #[serde(default)]
    eos_token_id: Option<Value>,
}

fn default_eps() -> f64 {
    1e-6
}

impl LlmSpec {
    /// Read `config.json`; the family comes from its `model_type` (or `architectures`).
    /// Errors name the file and the key.
    pub fn from_file(path: &Path) -> Result<Self, LlmError> {
        let text = std::fs::read_to_string(path).map_err(|source| LlmError::Io {
            path: path.to_owned(),
            source,
        })?;
        let value: Value = serde_json::from_str(&text).map_err(|e| LlmError::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        Self::from_json(value, path)
    }

    /// Parse an already read `config.json` (`path` is named in errors); the family comes from
    /// its `model_type`, else its `architectures`.
    pub fn from_json(value: Value, path: &Path) -> Result<Self, LlmError> {
        let hf = as_object(value, path)?;
        let fam = family::detect(&hf).map_err(|(key, value)| LlmError::Unsupported {
            path: path.to_owned(),
            key,
            value,
            supported: family::supported_model_types().join(", "),
        })?;
        Self::parse(fam, hf, path)
    }

    /// Parse a `config.json` as family `model_type` whatever its own `model_type` says, e.g.
    /// the LLM part of a VideoChat-Flash release (`model_type` `videochat_flash_qwen`, a
    /// Qwen2 decoder).
    pub fn from_json_as(model_type: &str, value: Value, path: &Path) -> Result<Self, LlmError> {
        let hf = as_object(value, path)?;
        let fam = family::by_model_type(model_type).ok_or_else(|| LlmError::Unsupported {
            path: path.to_owned(),
            key: "model_type".into(),
            value: model_type.into(),
            supported: family::supported_model_types().join(", "),
        })?;
        Self::parse(fam, hf, path)
    }

    fn parse(
        fam: &'static dyn Family,
        hf: Map<String, Value>,
        path: &Path,
    ) -> Result<Self, LlmError> {
        let bad = |message: String| LlmError::Config {
            path: path.to_owned(),
            message,
        };
        let c: Common =
            serde_json::from_value(Value::Object(hf.clone())).map_err(|e| bad(e.to_string()))?;
        if let Some(act) = c.hidden_act.as_deref().filter(|a| *a != "silu") {
            return Err(LlmError::Unsupported {
                path: path.to_owned(),
                key: "hidden_act".into(),
                value: act.into(),
                supported: "silu".into(),
            });
        }
        let heads = c.num_attention_heads;
        let explicit_head_dim = c.head_dim.or(fam.default_head_dim());
        let kv = c.num_key_value_heads.unwrap_or(heads);
        if heads == 0 || (explicit_head_dim.is_none() && !c.hidden_size.is_multiple_of(heads)) {
            return Err(bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {heads}",
                c.hidden_size
            )));
        }
        if kv == 0 || !heads.is_multiple_of(kv) {
            return Err(bad(format!(
                "num_attention_heads {heads} is not a multiple of num_key_value_heads {kv}"
            )));
        }
        let head_dim = explicit_head_dim.unwrap_or(c.hidden_size / heads);
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(bad(format!(
                "head_dim {head_dim} is not a positive even number"
            )));
        }
        let parts = fam
            .parts(&hf)
            .map_err(|(key, value)| LlmError::Unsupported {
                path: path.to_owned(),
                key,
                value,
                supported: format!("what hico's `{}` family implements", fam.model_type()),
            })?;
        let max_pos = c
            .max_position_embeddings
            .unwrap_or(fam.default_max_positions());
        let (rope_theta, rope_scaling) = crate::rotary::parse_rope(&hf, max_pos, path)?;
        let eos_token_ids = match &c.eos_token_id {
            Some(Value::Number(n)) => n.as_u64().map(|i| i as u32).into_iter().collect(),
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| v.as_u64())
                .map(|i| i as u32)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Self {
            family: fam.model_type(),
            vocab_size: c.vocab_size,
            hidden_size: c.hidden_size,
            intermediate_size: c.intermediate_size,
            num_hidden_layers: c.num_hidden_layers,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            rms_norm_eps: c.rms_norm_eps,
            tie_word_embeddings: c.tie_word_embeddings,
            rope_theta: rope_theta.unwrap_or(fam.default_rope_theta()),
            rope_scaling,
            max_position_embeddings: max_pos,
            parts,
            eos_token_ids,
            hf,
        })
    }

    /// A spec of family `model_type` and the given shape, as a Hugging Face `config.json`
    /// of that family would say (rotary base 1e6, RMSNorm epsilon 1e-6, tied head; set the
    /// public fields to change them). An unknown family is an error naming `[llm] family`.
    #[allow(clippy::too_many_arguments)]
    pub fn tiny(
        model_type: &str,
        vocab_size: usize,
        hidden_size: usize,
        intermediate_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        num_key_value_heads: usize,
    ) -> Result<Self, LlmError> {
        let origin = Path::new("[llm]");
        let fam = family::by_model_type(model_type).ok_or_else(|| LlmError::Unsupported {
            path: origin.to_owned(),
            key: "family".into(),
            value: model_type.into(),
            supported: family::supported_model_types().join(", "),
        })?;
        let hf = serde_json::json!({
            "model_type": fam.model_type(),
            "architectures": [fam.architecture()],
            "vocab_size": vocab_size,
            "hidden_size": hidden_size,
            "intermediate_size": intermediate_size,
            "num_hidden_layers": num_hidden_layers,
            "num_attention_heads": num_attention_heads,
            "num_key_value_heads": num_key_value_heads,
            "head_dim": hidden_size / num_attention_heads.max(1),
            "hidden_act": "silu",
            "rope_theta": 1_000_000.0,
            "rms_norm_eps": 1e-6,
            "tie_word_embeddings": true,
        });
        Self::parse(fam, as_object(hf, origin)?, origin)
    }

    /// The `config.json` of this spec: the one it was read from with the spec's fields
    /// written over it (family, shape, rotary as `rope_theta` / `rope_scaling`, which
    /// transformers 4 and 5 both read) and `dtype` float32 (hico saves f32).
    pub fn to_hf(&self) -> Map<String, Value> {
        let mut m = self.hf.clone();
        let fam = family::by_model_type(self.family).expect("a spec's family is registered");
        let mut set = |k: &str, v: Value| {
            m.insert(k.to_string(), v);
        };
        set("model_type", fam.model_type().into());
        set("architectures", serde_json::json!([fam.architecture()]));
        set("vocab_size", self.vocab_size.into());
        set("hidden_size", self.hidden_size.into());
        set("intermediate_size", self.intermediate_size.into());
        set("num_hidden_layers", self.num_hidden_layers.into());
        set("num_attention_heads", self.num_attention_heads.into());
        set("num_key_value_heads", self.num_key_value_heads.into());
        set("head_dim", self.head_dim.into());
        set("rms_norm_eps", self.rms_norm_eps.into());
        set("tie_word_embeddings", self.tie_word_embeddings.into());
        set(
            "max_position_embeddings",
            self.max_position_embeddings.into(),
        );
        set("rope_theta", self.rope_theta.into());
        set("dtype", "float32".into());
        m.remove("torch_dtype");
        m.remove("rope_parameters");
        match crate::rotary::scaling_json(self.rope_scaling.as_ref()) {
            Some(r) => m.insert("rope_scaling".into(), r),
            None => m.remove("rope_scaling"),
        };
        m
    }

    /// Shape facts for ledgers.
    pub fn shape(&self) -> LlmShape {
        LlmShape {
            vocab: self.vocab_size,
            hidden: self.hidden_size,
            intermediate: self.intermediate_size,
            layers: self.num_hidden_layers,
            heads: self.num_attention_heads,
            kv_heads: self.num_key_value_heads,
            head_dim: self.head_dim,
        }
    }

    /// Checkpoint keys a model of this spec may leave unread: the head of a tied model
    /// (some checkpoints store a copy) and the rotary buffers old checkpoints carry.
    pub fn ignorable(&self, key: &str) -> bool {
        (self.tie_word_embeddings && key == "lm_head.weight")
            || key.ends_with("self_attn.rotary_emb.inv_freq")
    }
}

fn as_object(value: Value, path: &Path) -> Result<Map<String, Value>, LlmError> {
    match value {
        Value::Object(m) => Ok(m),
        other => Err(LlmError::Config {
            path: path.to_owned(),
            message: format!("expected a JSON object, found {other}"),
        }),
    }
}
