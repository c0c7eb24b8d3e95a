//! [`CausalLm`]: the decoder-only language model of every supported family (Qwen2 / Qwen2.5,
//! LLaMA, Qwen3; see [`crate::family`]): pre-norm layers of grouped-query attention with
//! half-split rotary embedding (optional q/k/v/o biases, optional per-head q/k RMSNorm) and a
//! SwiGLU MLP, a final RMSNorm, a tied or untied output head. Struct fields are named after
//! the Hugging Face checkpoint keys (`model.layers.N.self_attn.q_proj`, ...). Written once
//! over `B: Backend`; runs under `Autodiff` for training. The layers are in [`crate::layer`].

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::Embedding;
use burn::nn::{EmbeddingConfig, Initializer, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use hico_backend::HicoBackend;
use hico_backend::nn::RowLinear;

use crate::attention::AttentionOptions;
use crate::layer::{Attention, DecoderLayer, Mlp};
use crate::rotary::{RopeTable, TABLE_ROWS, inv_freq};
use crate::spec::LlmSpec;

/// The decoder stack (`model.*` in checkpoints).
#[derive(Module, Debug)]
pub struct Decoder<B: Backend> {
    /// Token embeddings `[vocab, hidden]`.
    pub embed_tokens: Embedding<B>,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer<B>>,
    /// Final norm.
    pub norm: RmsNorm<B>,
}

/// A causal language model of any supported family.
#[derive(Module, Debug)]
pub struct CausalLm<B: Backend> {
    /// The decoder stack.
    pub model: Decoder<B>,
    /// Output head; `None` when tied to `model.embed_tokens`.
    pub lm_head: Option<Linear<B>>,
    /// Rotary `cos` / `sin` table (constants on the device).
    pub rope: RopeTable<B>,
    /// The spec (and `config.json`) it was built from.
    #[module(skip)]
    pub spec: LlmSpec,
    /// Attention implementation and tile of inference.
    #[module(skip)]
    pub attention: AttentionOptions,
}

/// Transformers' initialisation of weight matrices: normal(0, 0.02).
const INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};

fn linear<B: HicoBackend>(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Linear<B> {
    let mut l = LinearConfig::new(d_in, d_out)
        .with_bias(false)
        .with_initializer(INIT)
        .init(device);
    if bias {
        l.bias = Some(Initializer::Zeros.init([d_out], device));
    }
    l
}

fn rms<B: HicoBackend>(d: usize, eps: f64, device: &B::Device) -> RmsNorm<B> {
    RmsNormConfig::new(d).with_epsilon(eps).init(device)
}

struct Materialize;

impl<B: HicoBackend> ModuleVisitor<B> for Materialize {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        let _ = p.val();
    }
}

impl<B: HicoBackend> CausalLm<B> {
    /// The model of `spec` with lazily initialised parameters: nothing is allocated or drawn
    /// until a parameter is first read, so a loader can fill it at no extra cost.
    pub fn init(spec: &LlmSpec, device: &B::Device) -> Self {
        let (h, hd, inter) = (spec.hidden_size, spec.head_dim, spec.intermediate_size);
        let (nh, nkv, eps, parts) = (
            spec.num_attention_heads,
            spec.num_key_value_heads,
            spec.rms_norm_eps,
            spec.parts,
        );
        let layers = (0..spec.num_hidden_layers)
            .map(|_| DecoderLayer {
                self_attn: Attention {
                    q_proj: linear(h, nh * hd, parts.qkv_bias, device),
                    k_proj: linear(h, nkv * hd, parts.qkv_bias, device),
                    v_proj: linear(h, nkv * hd, parts.qkv_bias, device),
                    o_proj: linear(nh * hd, h, parts.o_bias, device),
                    q_norm: parts.qk_norm.then(|| rms(hd, eps, device)),
                    k_norm: parts.qk_norm.then(|| rms(hd, eps, device)),
                    heads: nh,
                    kv_heads: nkv,
                    head_dim: hd,
                },
                mlp: Mlp {
                    gate_proj: linear(h, inter, parts.mlp_bias, device),
                    up_proj: linear(h, inter, parts.mlp_bias, device),
                    down_proj: linear(inter, h, parts.mlp_bias, device),
                },
                input_layernorm: rms(h, eps, device),
                post_attention_layernorm: rms(h, eps, device),
            })
            .collect();
        let inv = inv_freq(hd, spec.rope_theta, spec.rope_scaling.as_ref());
        let rows = spec.max_position_embeddings.clamp(1, TABLE_ROWS);
        Self {
            model: Decoder {
                embed_tokens: EmbeddingConfig::new(spec.vocab_size, h)
                    .with_initializer(INIT)
                    .init(device),
                layers,
                norm: rms(h, eps, device),
            },
            lm_head: (!spec.tie_word_embeddings).then(|| linear(h, spec.vocab_size, false, device)),
            rope: RopeTable::new(&inv, rows, device),
            spec: spec.clone(),
            attention: AttentionOptions::default(),
        }
    }

    /// Random init as transformers does (normal(0, 0.02) matrices, zero biases, unit
    /// norms), drawn now in module order (so the weights depend only on the backend seed).
    pub fn random(spec: &LlmSpec, device: &B::Device) -> Self {
        let m = Self::init(spec, device);
        m.visit(&mut Materialize);
        m
    }

    /// The same model with another attention implementation or tile.
    pub fn with_attention(mut self, attention: AttentionOptions) -> Self {
        self.attention = attention;
        self
    }

    /// The device the weights live on.
    pub fn device(&self) -> B::Device {
        self.model.embed_tokens.weight.device()
    }

    /// Token embeddings: `[1, L]` ids → `[1, L, hidden]`.
    pub fn embed_ids(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.model.embed_tokens.forward(ids)
    }

    /// Final norm and output head on every row: `[1, L, hidden]` → `[1, L, vocab]`.
    pub fn head(&self, h: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, l, d] = h.dims();
        self.head_2d(h.reshape([b * l, d]))
            .reshape([b, l, self.spec.vocab_size])
    }

    /// Final norm and output head on some rows of `h` only (the rows whose logits are
    /// read): `[1, L, hidden]`, n row indices → `[n, vocab]`.
    pub fn head_rows(&self, h: Tensor<B, 3>, rows: &[usize]) -> Tensor<B, 2> {
        let [_, l, d] = h.dims();
        let idx: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
        let idx = Tensor::<B, 1, Int>::from_data(TensorData::new(idx, [rows.len()]), &h.device());
        self.head_2d(h.reshape([l, d]).select(0, idx))
    }

    /// `[n, hidden]` → `[n, vocab]`.
    fn head_2d(&self, h: Tensor<B, 2>) -> Tensor<B, 2> {
        let h = hico_backend::nn::rms_norm(&self.model.norm, h);
        match &self.lm_head {
            Some(head) => head.forward_rows(h),
            // `h · Wᵀ` with `W` read in its stored `[vocab, hidden]` layout (on the CPU a
            // few rows take one streaming pass of dot products along W's rows).
            None => B::matmul_wt(h, self.model.embed_tokens.weight.val()),
        }
    }
}
