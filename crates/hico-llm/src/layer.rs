//! One decoder layer: grouped-query self-attention (optional biases, optional per-head q/k
//! RMSNorm) and a SwiGLU MLP, pre-norm with residuals.

use burn::module::Module;
use burn::nn::{Linear, RmsNorm};
use burn::tensor::{Tensor, backend::Backend};
use hico_backend::HicoBackend;
use hico_backend::nn::RowLinear;

use crate::attention::{AttentionOptions, decoder_attention};
use crate::cache::LayerKv;
use crate::rotary::Rope;

/// Rows of the MLP computed at once on long sequences: bounds its activations to
/// `MLP_ROWS × intermediate` (36 MiB in f32 at Qwen2.5-1.5B's 8,960) whatever L is.
pub const MLP_ROWS: usize = 1024;

/// Self-attention of one decoder layer.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// `[hidden → heads·head_dim]`.
    pub q_proj: Linear<B>,
    /// `[hidden → kv_heads·head_dim]`.
    pub k_proj: Linear<B>,
    /// `[hidden → kv_heads·head_dim]`.
    pub v_proj: Linear<B>,
    /// `[heads·head_dim → hidden]`.
    pub o_proj: Linear<B>,
    /// RMSNorm over each query head before the rotary step (Qwen3).
    pub q_norm: Option<RmsNorm<B>>,
    /// RMSNorm over each key head before the rotary step (Qwen3).
    pub k_norm: Option<RmsNorm<B>>,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

/// SwiGLU feed-forward.
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// `[hidden → intermediate]`.
    pub gate_proj: Linear<B>,
    /// `[hidden → intermediate]`.
    pub up_proj: Linear<B>,
    /// `[intermediate → hidden]`.
    pub down_proj: Linear<B>,
}

/// One pre-norm decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer<B: Backend> {
    /// Attention.
    pub self_attn: Attention<B>,
    /// Feed-forward.
    pub mlp: Mlp<B>,
    /// Norm before attention.
    pub input_layernorm: RmsNorm<B>,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm<B>,
}

/// `[1, L, heads·d]` → `[1, heads, L, d]`, normed per head when `norm` is given.
fn split_heads<B: HicoBackend>(
    x: Tensor<B, 3>,
    heads: usize,
    d: usize,
    norm: Option<&RmsNorm<B>>,
) -> Tensor<B, 4> {
    let l = x.dims()[1];
    let x = x.reshape([1, l, heads, d]);
    let x = match norm {
        Some(n) => hico_backend::nn::rms_norm(n, x),
        None => x,
    };
    x.swap_dims(1, 2)
}

impl<B: HicoBackend> Attention<B> {
    /// Query heads at the rows of `x`, rotated: `[1, L, hidden]` → `[1, heads, L, head_dim]`.
    pub fn queries(&self, x: Tensor<B, 3>, rope: &Rope<B>) -> Tensor<B, 4> {
        let q = self.q_proj.forward_rows(x);
        rope.apply(split_heads(
            q,
            self.heads,
            self.head_dim,
            self.q_norm.as_ref(),
        ))
    }

    /// Rotated keys and values: `[1, L, hidden]` → two `[1, kv_heads, L, head_dim]`.
    pub fn keys_values(&self, x: Tensor<B, 3>, rope: &Rope<B>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let k = self.k_proj.forward_rows(x.clone());
        let k = rope.apply(split_heads(
            k,
            self.kv_heads,
            self.head_dim,
            self.k_norm.as_ref(),
        ));
        let v = split_heads(
            self.v_proj.forward_rows(x),
            self.kv_heads,
            self.head_dim,
            None,
        );
        (k, v)
    }

    /// Causal self-attention, appending to `cache` when given.
    ///
    /// # Shapes
    /// - `x`: `[1, L, hidden]` (normed), `rope` at the L new positions → `[1, L, hidden]`
    pub fn forward(
        &self,
        x: Tensor<B, 3>,
        rope: &Rope<B>,
        cache: Option<&mut LayerKv<B>>,
        options: &AttentionOptions,
    ) -> Tensor<B, 3> {
        let l = x.dims()[1];
        let q = self.queries(x.clone(), rope);
        let (mut k, mut v) = self.keys_values(x, rope);
        let mut offset = 0;
        if let Some(c) = cache {
            (k, v, offset) = c.append(k, v);
        }
        let o = decoder_attention(q, k, v, offset, options);
        self.o_proj.forward_rows(
            o.swap_dims(1, 2)
                .reshape([1, l, self.heads * self.head_dim]),
        )
    }
}

impl<B: HicoBackend> DecoderLayer<B> {
    /// One decoder layer.
    ///
    /// # Shapes
    /// - `h`: `[1, L, hidden]` → `[1, L, hidden]`
    pub fn forward(
        &self,
        h: Tensor<B, 3>,
        rope: &Rope<B>,
        cache: Option<&mut LayerKv<B>>,
        options: &AttentionOptions,
    ) -> Tensor<B, 3> {
        self.mlp_residual(self.attn_residual(h, rope, cache, options))
    }

    /// The attention half of the layer: `h + attn(norm(h))` (FrameFusion merges and prunes
    /// between the two halves).
    ///
    /// # Shapes
    /// - `h`: `[1, L, hidden]` → `[1, L, hidden]`
    pub fn attn_residual(
        &self,
        h: Tensor<B, 3>,
        rope: &Rope<B>,
        cache: Option<&mut LayerKv<B>>,
        options: &AttentionOptions,
    ) -> Tensor<B, 3> {
        let x = hico_backend::nn::rms_norm(&self.input_layernorm, h.clone());
        h + self.self_attn.forward(x, rope, cache, options)
    }

    /// The MLP half of the layer: `h + mlp(h)`, the MLP [`MLP_ROWS`] rows at a time.
    ///
    /// # Shapes
    /// - `h`: `[1, L, hidden]` → `[1, L, hidden]`
    pub fn mlp_residual(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let l = h.dims()[1];
        if l <= MLP_ROWS {
            return h.clone() + self.mlp_of(h);
        }
        // Long sequences: the MLP a block of rows at a time, so its `[rows, intermediate]`
        // activations stay small whatever L is (they would be the largest buffers). The
        // residual is added once to the joined blocks (dense operands: burn-flex adds a
        // sliced view element by element through its strided path).
        let parts = (0..l)
            .step_by(MLP_ROWS)
            .map(|r0| self.mlp_of(h.clone().slice([0..1, r0..(r0 + MLP_ROWS).min(l)])))
            .collect();
        h + Tensor::cat(parts, 1)
    }

    /// The MLP block on its input rows: `[1, L, hidden]` → `[1, L, hidden]` (no residual).
    pub(crate) fn mlp_of(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = hico_backend::nn::rms_norm(&self.post_attention_layernorm, h);
        let m = &self.mlp;
        m.down_proj.forward_rows(B::swiglu(
            m.gate_proj.forward_rows(x.clone()),
            m.up_proj.forward_rows(x),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, Tolerance};
    use hico_backend::Cpu;

    #[test]
    fn row_blocks_of_the_mlp_equal_the_whole() {
        let dev = Default::default();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gqa");
        let lm = crate::CausalLm::<Cpu>::load_hf(&dir, &dev).expect("the gqa fixture");
        let layer = &lm.model.layers[0];
        let hidden = lm.spec.hidden_size;
        let h = Tensor::<Cpu, 3>::random([1, MLP_ROWS + 37, hidden], Distribution::Default, &dev);
        let blocked = layer.mlp_residual(h.clone());
        let whole = h.clone() + layer.mlp_of(h);
        blocked
            .into_data()
            .assert_approx_eq::<f32>(&whole.into_data(), Tolerance::absolute(1e-5));
    }
}
