//! Qwen3 (Qwen Team, "Qwen3 Technical Report", arXiv 2505.09388): an RMSNorm over each
//! query and key head before the rotary step (`q_norm`, `k_norm`), no q/k/v biases unless
//! `attention_bias`, and an explicit `head_dim` (128 when absent, transformers' default).

use serde_json::{Map, Value};

use super::{Family, flag, no_sliding_window};
use crate::spec::Parts;

/// The Qwen3 family.
pub struct Qwen3;

impl Family for Qwen3 {
    fn model_type(&self) -> &'static str {
        "qwen3"
    }

    fn architecture(&self) -> &'static str {
        "Qwen3ForCausalLM"
    }

    fn parts(&self, hf: &Map<String, Value>) -> Result<Parts, (String, String)> {
        no_sliding_window(hf)?;
        let attention_bias = flag(hf, "attention_bias", false);
        Ok(Parts {
            qkv_bias: attention_bias,
            o_bias: attention_bias,
            mlp_bias: false,
            qk_norm: true,
        })
    }

    fn default_max_positions(&self) -> usize {
        32_768
    }

    fn default_head_dim(&self) -> Option<usize> {
        Some(128)
    }
}
