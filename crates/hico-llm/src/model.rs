//! The Qwen2 / Qwen2.5 decoder (Qwen Team, "Qwen2 Technical Report", arXiv 2407.10671):
//! RMSNorm, half-split rotary embedding, grouped-query attention with biases on q/k/v (not
//! o), SwiGLU MLP, tied or untied output head. Struct fields are named after the HF
//! checkpoint keys (`model.layers.N.self_attn.q_proj`, ...), so loading needs no remap.
//! Written once over `B: Backend`; runs under `Autodiff` for training.

use burn::module::{Module, Param};
use burn::nn::{Embedding, Linear, RmsNorm};
use burn::tensor::{Distribution, Int, Tensor, activation::silu, backend::Backend};
use hico_core::nn::RowLinear;

use crate::Qwen2Config;
use crate::attention::decoder_attention;
use crate::cache::LayerKv;
use crate::rotary::Rope;

/// Rows of the MLP computed at once on long sequences: bounds its activations to
/// `MLP_ROWS × intermediate` (36 MiB in f32 at Qwen2.5-1.5B's 8,960) whatever L is.
pub const MLP_ROWS: usize = 1024;

/// Self-attention of one decoder layer.
#[derive(Module, Debug)]
pub struct Qwen2Attention<B: Backend> {
    /// `[hidden → heads·head_dim]`, with bias.
    pub q_proj: Linear<B>,
    /// `[hidden → kv_heads·head_dim]`, with bias.
    pub k_proj: Linear<B>,
    /// `[hidden → kv_heads·head_dim]`, with bias.
    pub v_proj: Linear<B>,
    /// `[heads·head_dim → hidden]`, no bias.
    pub o_proj: Linear<B>,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

/// SwiGLU feed-forward.
#[derive(Module, Debug)]
pub struct Qwen2Mlp<B: Backend> {
    /// `[hidden → intermediate]`.
    pub gate_proj: Linear<B>,
    /// `[hidden → intermediate]`.
    pub up_proj: Linear<B>,
    /// `[intermediate → hidden]`.
    pub down_proj: Linear<B>,
}

/// One pre-norm decoder layer.
#[derive(Module, Debug)]
pub struct Qwen2Layer<B: Backend> {
    /// Attention.
    pub self_attn: Qwen2Attention<B>,
    /// Feed-forward.
    pub mlp: Qwen2Mlp<B>,
    /// Norm before attention.
    pub input_layernorm: RmsNorm<B>,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm<B>,
}

/// The decoder stack (`model.*` in checkpoints).
#[derive(Module, Debug)]
pub struct Qwen2Model<B: Backend> {
    /// Token embeddings `[vocab, hidden]`.
    pub embed_tokens: Embedding<B>,
    /// Decoder layers.
    pub layers: Vec<Qwen2Layer<B>>,
    /// Final norm.
    pub norm: RmsNorm<B>,
}

/// A Qwen2 causal language model.
#[derive(Module, Debug)]
pub struct Qwen2<B: Backend> {
    /// The decoder stack.
    pub model: Qwen2Model<B>,
    /// Output head; `None` when tied to `model.embed_tokens`.
    pub lm_head: Option<Linear<B>>,
    /// The HF config it was built from.
    #[module(skip)]
    pub config: Qwen2Config,
}

/// Supplies a parameter by checkpoint key and HF shape, as a flat tensor.
pub(crate) type Source<'a, B> = dyn FnMut(&str, &[usize]) -> Tensor<B, 1> + 'a;

fn param<B: Backend, const D: usize>(
    src: &mut Source<'_, B>,
    name: &str,
    shape: [usize; D],
) -> Tensor<B, D> {
    src(name, &shape).reshape(shape)
}

/// A Linear from HF's `[out, in]` weight (burn stores `[in, out]`).
fn linear<B: Backend>(
    src: &mut Source<'_, B>,
    name: &str,
    d_in: usize,
    d_out: usize,
    bias: bool,
) -> Linear<B> {
    let w: Tensor<B, 2> = param(src, &format!("{name}.weight"), [d_out, d_in]);
    Linear {
        weight: Param::from_tensor(w.transpose()),
        bias: bias.then(|| Param::from_tensor(param(src, &format!("{name}.bias"), [d_out]))),
    }
}

fn rms<B: Backend>(src: &mut Source<'_, B>, name: &str, d: usize, eps: f64) -> RmsNorm<B> {
    RmsNorm {
        gamma: Param::from_tensor(param(src, &format!("{name}.weight"), [d])),
        epsilon: eps,
    }
}

impl<B: Backend> Qwen2<B> {
    /// Random init as HF does: normal(0, 0.02) matrices, zero biases, unit norms.
    pub fn new(cfg: &Qwen2Config, device: &B::Device) -> Self {
        let mut src = |name: &str, shape: &[usize]| -> Tensor<B, 1> {
            let n: usize = shape.iter().product();
            if name.ends_with("norm.weight") {
                Tensor::ones([n], device)
            } else if name.ends_with(".bias") {
                Tensor::zeros([n], device)
            } else {
                Tensor::random([n], Distribution::Normal(0.0, 0.02), device)
            }
        };
        Self::build(cfg, &mut src)
    }

    /// Build from a parameter source (random init or a checkpoint).
    pub(crate) fn build(cfg: &Qwen2Config, src: &mut Source<'_, B>) -> Self {
        let (h, hd) = (cfg.hidden_size, cfg.head_dim());
        let (nh, nkv) = (cfg.num_attention_heads, cfg.kv_heads());
        let eps = cfg.rms_norm_eps;
        let embed = Embedding {
            weight: Param::from_tensor(param(
                src,
                "model.embed_tokens.weight",
                [cfg.vocab_size, h],
            )),
        };
        let layers = (0..cfg.num_hidden_layers)
            .map(|i| {
                let p = format!("model.layers.{i}");
                Qwen2Layer {
                    self_attn: Qwen2Attention {
                        q_proj: linear(src, &format!("{p}.self_attn.q_proj"), h, nh * hd, true),
                        k_proj: linear(src, &format!("{p}.self_attn.k_proj"), h, nkv * hd, true),
                        v_proj: linear(src, &format!("{p}.self_attn.v_proj"), h, nkv * hd, true),
                        o_proj: linear(src, &format!("{p}.self_attn.o_proj"), nh * hd, h, false),
                        heads: nh,
                        kv_heads: nkv,
                        head_dim: hd,
                    },
                    mlp: Qwen2Mlp {
                        gate_proj: linear(
                            src,
                            &format!("{p}.mlp.gate_proj"),
                            h,
                            cfg.intermediate_size,
                            false,
                        ),
                        up_proj: linear(
                            src,
                            &format!("{p}.mlp.up_proj"),
                            h,
                            cfg.intermediate_size,
                            false,
                        ),
                        down_proj: linear(
                            src,
                            &format!("{p}.mlp.down_proj"),
                            cfg.intermediate_size,
                            h,
                            false,
                        ),
                    },
                    input_layernorm: rms(src, &format!("{p}.input_layernorm"), h, eps),
                    post_attention_layernorm: rms(
                        src,
                        &format!("{p}.post_attention_layernorm"),
                        h,
                        eps,
                    ),
                }
            })
            .collect();
        let norm = rms(src, "model.norm", h, eps);
        let lm_head =
            (!cfg.tie_word_embeddings).then(|| linear(src, "lm_head", h, cfg.vocab_size, false));
        Self {
            model: Qwen2Model {
                embed_tokens: embed,
                layers,
                norm,
            },
            lm_head,
            config: cfg.clone(),
        }
    }

    /// Every parameter by checkpoint key in HF layout (`[out, in]` matrices), in build order.
    pub(crate) fn visit(&self, f: &mut dyn FnMut(String, Tensor<B, 2>)) {
        let lin = |f: &mut dyn FnMut(String, Tensor<B, 2>), name: String, l: &Linear<B>| {
            f(format!("{name}.weight"), l.weight.val().transpose());
            if let Some(b) = &l.bias {
                f(format!("{name}.bias"), b.val().unsqueeze());
            }
        };
        f(
            "model.embed_tokens.weight".into(),
            self.model.embed_tokens.weight.val(),
        );
        for (i, layer) in self.model.layers.iter().enumerate() {
            let p = format!("model.layers.{i}");
            let a = &layer.self_attn;
            lin(f, format!("{p}.self_attn.q_proj"), &a.q_proj);
            lin(f, format!("{p}.self_attn.k_proj"), &a.k_proj);
            lin(f, format!("{p}.self_attn.v_proj"), &a.v_proj);
            lin(f, format!("{p}.self_attn.o_proj"), &a.o_proj);
            lin(f, format!("{p}.mlp.gate_proj"), &layer.mlp.gate_proj);
            lin(f, format!("{p}.mlp.up_proj"), &layer.mlp.up_proj);
            lin(f, format!("{p}.mlp.down_proj"), &layer.mlp.down_proj);
            f(
                format!("{p}.input_layernorm.weight"),
                layer.input_layernorm.gamma.val().unsqueeze(),
            );
            f(
                format!("{p}.post_attention_layernorm.weight"),
                layer.post_attention_layernorm.gamma.val().unsqueeze(),
            );
        }
        f(
            "model.norm.weight".into(),
            self.model.norm.gamma.val().unsqueeze(),
        );
        if let Some(head) = &self.lm_head {
            lin(f, "lm_head".into(), head);
        }
    }

    /// Token embeddings: `[1, L]` ids → `[1, L, hidden]`.
    pub fn embed_ids(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.model.embed_tokens.forward(ids)
    }

    /// Final norm and output head: `[1, L, hidden]` → `[1, L, vocab]`.
    pub fn head(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let h = self.model.norm.forward(h);
        match &self.lm_head {
            Some(head) => head.forward_rows(h),
            // `W · hᵀ` reads the `[vocab, hidden]` matrix in its stored layout (a matmul
            // with its transpose would copy 136M floats per call for Qwen2-0.5B).
            None => {
                let [b, l, d] = h.dims();
                let w = self.model.embed_tokens.weight.val();
                let v = w.dims()[0];
                w.matmul(h.reshape([b * l, d]).transpose())
                    .transpose()
                    .reshape([b, l, v])
            }
        }
    }
}

impl<B: Backend> Qwen2Attention<B> {
    /// Query heads at the rows of `x`, rotated: `[1, L, hidden]` → `[1, heads, L, head_dim]`.
    pub fn queries(&self, x: Tensor<B, 3>, rope: &Rope<B>) -> Tensor<B, 4> {
        let l = x.dims()[1];
        rope.apply(
            self.q_proj
                .forward_rows(x)
                .reshape([1, l, self.heads, self.head_dim])
                .swap_dims(1, 2),
        )
    }

    /// Rotated keys and values: `[1, L, hidden]` → two `[1, kv_heads, L, head_dim]`.
    pub fn keys_values(&self, x: Tensor<B, 3>, rope: &Rope<B>) -> (Tensor<B, 4>, Tensor<B, 4>) {
        let l = x.dims()[1];
        let shape = [1, l, self.kv_heads, self.head_dim];
        let k = rope.apply(
            self.k_proj
                .forward_rows(x.clone())
                .reshape(shape)
                .swap_dims(1, 2),
        );
        let v = self.v_proj.forward_rows(x).reshape(shape).swap_dims(1, 2);
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
    ) -> Tensor<B, 3> {
        let l = x.dims()[1];
        let q = self.queries(x.clone(), rope);
        let (mut k, mut v) = self.keys_values(x, rope);
        let mut offset = 0;
        if let Some(c) = cache {
            (k, v, offset) = c.append(k, v);
        }
        let o = decoder_attention(q, k, v, offset);
        self.o_proj.forward_rows(
            o.swap_dims(1, 2)
                .reshape([1, l, self.heads * self.head_dim]),
        )
    }
}

impl<B: Backend> Qwen2Layer<B> {
    /// One decoder layer.
    ///
    /// # Shapes
    /// - `h`: `[1, L, hidden]` → `[1, L, hidden]`
    pub fn forward(
        &self,
        h: Tensor<B, 3>,
        rope: &Rope<B>,
        cache: Option<&mut LayerKv<B>>,
    ) -> Tensor<B, 3> {
        let h = h.clone()
            + self
                .self_attn
                .forward(self.input_layernorm.forward(h), rope, cache);
        let l = h.dims()[1];
        if l <= MLP_ROWS {
            return h.clone() + self.mlp_of(h);
        }
        // Long sequences: the MLP a block of rows at a time, so its `[rows, intermediate]`
        // activations stay small whatever L is (they would be the largest buffers).
        let parts = (0..l)
            .step_by(MLP_ROWS)
            .map(|r0| {
                let hb = h.clone().slice([0..1, r0..(r0 + MLP_ROWS).min(l)]);
                hb.clone() + self.mlp_of(hb)
            })
            .collect();
        Tensor::cat(parts, 1)
    }

    /// The MLP block on its input rows: `[1, L, hidden]` → `[1, L, hidden]` (no residual).
    fn mlp_of(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = self.post_attention_layernorm.forward(h);
        let m = &self.mlp;
        m.down_proj
            .forward_rows(silu(m.gate_proj.forward_rows(x.clone())) * m.up_proj.forward_rows(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hico_core::backend::Cpu;

    /// A layer over more than `MLP_ROWS` rows (MLP in blocks) equals the same layer computed
    /// in one piece.
    #[test]
    fn mlp_in_row_blocks_equals_one_piece() {
        let dev = Default::default();
        let cfg = Qwen2Config::tiny(64, 32, 48, 1, 4, 2, 10_000.0, 1e-6, true);
        let model = Qwen2::<Cpu>::new(&cfg, &dev);
        let layer = &model.model.layers[0];
        let l = 2 * MLP_ROWS + 77;
        let h = Tensor::<Cpu, 3>::random([1, l, 32], Distribution::Normal(0.0, 1.0), &dev);
        let pos: Vec<usize> = (0..l).collect();
        let rope = Rope::new(&pos, cfg.head_dim(), cfg.theta(), &dev);
        let got = layer.forward(h.clone(), &rope, None);
        let attn = h.clone()
            + layer
                .self_attn
                .forward(layer.input_layernorm.forward(h), &rope, None);
        let want = attn.clone() + layer.mlp_of(attn);
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), burn::tensor::Tolerance::absolute(1e-5));
    }
}
