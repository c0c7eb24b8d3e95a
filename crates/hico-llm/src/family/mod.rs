//! Model families: one file each, registered in [`FAMILIES`]. A family names its Hugging
//! Face `model_type` and architecture and says which optional parts its layers have, read
//! from its `config.json` ([`Parts`]); everything else is shared: the common config fields
//! and rotary parsing ([`crate::spec`], [`crate::rotary`]), the decoder ([`crate::model`]) and
//! the checkpoint key map ([`crate::weights`]), because Qwen2, LLaMA and Qwen3 checkpoints
//! use the same key layout (`model.layers.N.self_attn.q_proj`, ...) and differ only in
//! which of those keys exist. Adding a family is a file here and a line in [`FAMILIES`]
//! (plus, for a family with other key names or other layer maths, its own part of
//! `walk` / the layer forward, selected by a new [`Parts`] flag).

mod llama;
mod qwen2;
mod qwen3;

use serde_json::{Map, Value};

use crate::spec::Parts;

/// What one model family contributes.
pub trait Family: Sync {
    /// The Hugging Face `model_type` (`config.json`).
    fn model_type(&self) -> &'static str;
    /// The Hugging Face architecture class (`architectures[0]`).
    fn architecture(&self) -> &'static str;
    /// The optional parts of its layers, from its config; an unsupported setting is
    /// `Err((key, value))`.
    fn parts(&self, hf: &Map<String, Value>) -> Result<Parts, (String, String)>;
    /// `rope_theta` when the config has none (transformers' default for the family).
    fn default_rope_theta(&self) -> f64 {
        10_000.0
    }
    /// `max_position_embeddings` when the config has none.
    fn default_max_positions(&self) -> usize;
    /// `head_dim` when the config has none (`None`: `hidden_size / num_attention_heads`).
    fn default_head_dim(&self) -> Option<usize> {
        None
    }
}

/// Every supported family.
pub static FAMILIES: &[&dyn Family] = &[&qwen2::Qwen2, &llama::Llama, &qwen3::Qwen3];

/// The `model_type`s hico loads.
pub fn supported_model_types() -> Vec<&'static str> {
    FAMILIES.iter().map(|f| f.model_type()).collect()
}

/// The family of a `model_type`.
pub fn by_model_type(model_type: &str) -> Option<&'static dyn Family> {
    FAMILIES
        .iter()
        .copied()
        .find(|f| f.model_type() == model_type)
}

/// The family of a `config.json`: by `model_type`, else by `architectures[0]`; an unknown
/// one is `Err((key, value))`.
pub fn detect(hf: &Map<String, Value>) -> Result<&'static dyn Family, (String, String)> {
    if let Some(t) = hf.get("model_type").and_then(Value::as_str) {
        return by_model_type(t).ok_or_else(|| ("model_type".into(), t.into()));
    }
    let arch = hf
        .get("architectures")
        .and_then(|a| a.get(0))
        .and_then(Value::as_str);
    match arch {
        Some(a) => FAMILIES
            .iter()
            .copied()
            .find(|f| f.architecture() == a)
            .ok_or_else(|| ("architectures".into(), a.into())),
        None => Err(("model_type".into(), "(absent)".into())),
    }
}

/// A boolean config key, `default` when absent.
pub(crate) fn flag(hf: &Map<String, Value>, key: &str, default: bool) -> bool {
    hf.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// Sliding-window attention is not implemented: `use_sliding_window = true` is an error.
pub(crate) fn no_sliding_window(hf: &Map<String, Value>) -> Result<(), (String, String)> {
    if flag(hf, "use_sliding_window", false) {
        return Err(("use_sliding_window".into(), "true".into()));
    }
    Ok(())
}
