//! LLaMA (Touvron et al., arXiv 2302.13971; Llama 2 and 3.x, and LLaMA-architecture models
//! such as TinyLlama and SmolLM2): no biases unless `attention_bias` (q, k, v and o) or
//! `mlp_bias` say so, no q/k norms; Llama 3.x's rotary scaling (`rope_type = "llama3"`) is
//! read by [`crate::rotary::parse_rope`].

use serde_json::{Map, Value};

use super::{Family, flag};
use crate::spec::Parts;

/// The LLaMA family.
pub struct Llama;

impl Family for Llama {
    fn model_type(&self) -> &'static str {
        "llama"
    }

    fn architecture(&self) -> &'static str {
        "LlamaForCausalLM"
    }

    fn parts(&self, hf: &Map<String, Value>) -> Result<Parts, (String, String)> {
        let attention_bias = flag(hf, "attention_bias", false);
        Ok(Parts {
            qkv_bias: attention_bias,
            o_bias: attention_bias,
            mlp_bias: flag(hf, "mlp_bias", false),
            qk_norm: false,
        })
    }

    fn default_max_positions(&self) -> usize {
        2_048
    }
}
