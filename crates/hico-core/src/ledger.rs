//! The analytic FLOP and KV-cache ledger of a prefill, from the token counts actually
//! present at each layer (see [`crate::RetentionTrace`]).

use serde::{Deserialize, Serialize};

use crate::LlmShape;

/// Cost of one decoder layer in a prefill.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerCost {
    /// 1-based layer.
    pub layer: usize,
    /// Sequence length at the layer's input.
    pub seq_len: usize,
    /// Multiply-adds ×2 of the projections, attention and MLP.
    pub flops: f64,
    /// Bytes of this layer's K and V cache after the prefill.
    pub kv_bytes: f64,
}

/// The ledger of a whole prefill.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ledger {
    /// One entry per layer.
    pub layers: Vec<LayerCost>,
    /// Sum of `flops`.
    pub total_flops: f64,
    /// Sum of `kv_bytes`.
    pub total_kv_bytes: f64,
}

/// FLOPs of one layer on a causal sequence of `n` tokens: q/k/v/o projections, the
/// attention scores and weighted sum (causal: half of n²), and the SwiGLU MLP.
pub fn layer_flops(s: &LlmShape, n: usize) -> f64 {
    let (n, h, d) = (n as f64, s.hidden as f64, s.head_dim as f64);
    let (qh, kvh, i) = (s.heads as f64, s.kv_heads as f64, s.intermediate as f64);
    let proj = 2.0 * n * h * (qh * d + 2.0 * kvh * d) + 2.0 * n * qh * d * h;
    let attn = 2.0 * 2.0 * qh * d * n * (n + 1.0) / 2.0;
    let mlp = 2.0 * 3.0 * n * h * i;
    proj + attn + mlp
}

/// The ledger given the sequence length at each layer's input and the element size.
pub fn ledger(shape: &LlmShape, seq_lens: &[usize], bytes_per_elem: usize) -> Ledger {
    let mut out = Ledger::default();
    for (i, &n) in seq_lens.iter().enumerate() {
        let flops = layer_flops(shape, n);
        let kv_bytes = (2 * n * shape.kv_heads * shape.head_dim * bytes_per_elem) as f64;
        out.total_flops += flops;
        out.total_kv_bytes += kv_bytes;
        out.layers.push(LayerCost {
            layer: i + 1,
            seq_len: n,
            flops,
            kv_bytes,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fewer_tokens_cost_less_and_kv_is_linear() {
        let s = LlmShape {
            vocab: 10,
            hidden: 64,
            intermediate: 128,
            layers: 2,
            heads: 4,
            kv_heads: 2,
            head_dim: 16,
        };
        let l = ledger(&s, &[100, 50], 4);
        assert!(l.layers[1].flops < l.layers[0].flops / 1.9);
        assert_eq!(l.layers[0].kv_bytes, (2 * 100 * 2 * 16 * 4) as f64);
        assert_eq!(l.total_kv_bytes, l.layers[0].kv_bytes * 1.5);
    }
}
