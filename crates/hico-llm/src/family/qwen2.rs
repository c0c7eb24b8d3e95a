//! Qwen2 / Qwen2.5 (Qwen Team, "Qwen2 Technical Report", arXiv 2407.10671): biases on the
//! q, k and v projections (not o, not the MLP), no q/k norms; the LLM of VideoChat-Flash.

use serde_json::{Map, Value};

use super::{Family, no_sliding_window};
use crate::spec::Parts;

/// The Qwen2 family.
pub struct Qwen2;

impl Family for Qwen2 {
    fn model_type(&self) -> &'static str {
        "qwen2"
    }

    fn architecture(&self) -> &'static str {
        "Qwen2ForCausalLM"
    }

    fn parts(&self, hf: &Map<String, Value>) -> Result<Parts, (String, String)> {
        no_sliding_window(hf)?;
        Ok(Parts {
            qkv_bias: true,
            ..Parts::default()
        })
    }

    fn default_max_positions(&self) -> usize {
        32_768
    }
}
