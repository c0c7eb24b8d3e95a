//! The KV cache: per layer, rotated keys and values of every token seen so far (before the
//! GQA head repeat), and per layer the position id of the next token. After a visual drop,
//! layers past the drop hold shorter caches and (with renumbered positions) smaller next
//! positions, exactly as the reference shifts decode positions per layer.

use burn::tensor::{Tensor, backend::Backend};

/// Keys and values of one layer.
#[derive(Debug, Clone, Default)]
pub struct LayerKv<B: Backend> {
    /// `[1, kv_heads, T, head_dim]` keys and values, `None` before the first token.
    pub kv: Option<(Tensor<B, 4>, Tensor<B, 4>)>,
}

impl<B: Backend> LayerKv<B> {
    /// Cached tokens.
    pub fn len(&self) -> usize {
        self.kv.as_ref().map_or(0, |(k, _)| k.dims()[2])
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append new keys/values; returns all keys, all values and the old length.
    ///
    /// # Shapes
    /// - `k`, `v`: `[1, kv_heads, L_new, head_dim]` → `[1, kv_heads, T + L_new, head_dim]`
    pub fn append(
        &mut self,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>, usize) {
        let old = self.len();
        let (k, v) = match self.kv.take() {
            Some((pk, pv)) => (Tensor::cat(vec![pk, k], 2), Tensor::cat(vec![pv, v], 2)),
            None => (k, v),
        };
        self.kv = Some((k.clone(), v.clone()));
        (k, v, old)
    }
}

/// Decoding state of a Qwen2 after a prefill.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    /// One entry per decoder layer.
    pub layers: Vec<LayerKv<B>>,
    /// Position id of the next token at each layer.
    pub next_pos: Vec<usize>,
}

impl<B: Backend> KvCache<B> {
    /// An empty cache for `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: (0..n_layers).map(|_| LayerKv { kv: None }).collect(),
            next_pos: vec![0; n_layers],
        }
    }
}
