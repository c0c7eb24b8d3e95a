//! hico-llm: the decoder LLM of the pipeline. One model type, [`CausalLm`], for every
//! supported family (Qwen2 / Qwen2.5, LLaMA incl. Llama 3.x rotary scaling, Qwen3; see
//! [`family`] and [`supported_model_types`]) over any burn backend, loaded from and saved to
//! Hugging Face directories through one key map ([`weights`]); its tokenizer and chat
//! template ([`HicoTokenizer`], [`chat_prompt`]), KV-cache generation with transformers'
//! logits processors ([`generate`], [`sampling`]), progressive visual dropout executed
//! inside prefill ([`build_schedule`], [`prefill`]), and decode-time KV-cache pruning
//! ([`dycoke`]).

pub mod attention;
pub mod cache;
pub mod dycoke;
mod error;
pub mod family;
pub mod framefusion;
pub mod generate;
pub mod layer;
pub mod model;
pub mod prefill;
pub mod rotary;
pub mod sampling;
pub mod schedule;
pub mod spec;
pub mod tokenizer;
pub mod weights;

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use hico_backend::HicoBackend;
use hico_core::config::LlmConfig;
use hico_core::{LanguageModel, LlmShape, PrefillInput, PrefillOutput};

pub use attention::AttentionOptions;
pub use cache::KvCache;
pub use error::LlmError;
pub use family::supported_model_types;
pub use generate::{Generation, generate};
pub use model::CausalLm;
pub use rotary::{Rope, RopeScaling};
pub use schedule::build_schedule;
pub use spec::{LlmSpec, Parts};
pub use tokenizer::{HicoTokenizer, chat_prompt};

/// Logits of a training forward at the positions that need them.
#[derive(Debug, Clone)]
pub struct TrainLogits<B: Backend> {
    /// `[n, vocab]`, one row per asked input position, in the order asked.
    pub logits: Tensor<B, 2>,
    /// For each row that survived the drop plan, the input position it came from.
    pub src: Vec<usize>,
}

impl<B: HicoBackend> CausalLm<B> {
    /// Training forward: executes the plan, then applies the output head only to the rows
    /// of input positions `at` (the answer targets): at Qwen's 151,936-token vocabulary the
    /// logits of every row would be the largest tensor of a long sample. An error names a
    /// position the plan dropped (text is never dropped).
    ///
    /// # Shapes
    /// - `input.embeds`: `[1, L, hidden]`, `at`: n positions → logits `[n, vocab]`
    pub fn forward_train(
        &self,
        input: PrefillInput<B>,
        at: &[usize],
    ) -> Result<TrainLogits<B>, LlmError> {
        let out = self.run(input, None);
        let rows = at
            .iter()
            .map(|&p| {
                out.src
                    .iter()
                    .position(|&s| s == p)
                    .ok_or(LlmError::Dropped { position: p })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(TrainLogits {
            logits: self.head_rows(out.hidden, &rows),
            src: out.src,
        })
    }

    /// Plain forward over token ids (no drop), logits of every row: `[1, L]` → `[1, L, vocab]`.
    pub fn forward_ids(&self, ids: &[u32]) -> Tensor<B, 3> {
        let embeds = self.embed_ids(ids_tensor(ids, &self.device()));
        self.head(self.run(text_input(embeds), None).hidden)
    }
}

/// `[1, L]` id tensor.
pub fn ids_tensor<B: HicoBackend>(ids: &[u32], device: &B::Device) -> Tensor<B, 2, Int> {
    let v: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(v, [1, ids.len()]), device)
}

/// A text-only prefill input (no visual block, no drop, no capture).
pub fn text_input<B: HicoBackend>(embeds: Tensor<B, 3>) -> PrefillInput<B> {
    PrefillInput {
        embeds,
        visual_start: 0,
        visual_len: 0,
        plan: Default::default(),
        queries: Vec::new(),
        capture_layers: Vec::new(),
        frames: None,
        kv_cache: Default::default(),
    }
}

impl<B: HicoBackend> LanguageModel<B> for CausalLm<B> {
    type Cache = KvCache<B>;

    fn shape(&self) -> LlmShape {
        self.spec.shape()
    }

    fn embed(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.embed_ids(ids)
    }

    fn prefill(&self, input: PrefillInput<B>) -> (PrefillOutput<B>, KvCache<B>) {
        let mut cache = KvCache::new(self.model.layers.len());
        let dycoke = dycoke::DycokeState::for_input(&input);
        let out = self.run(input, Some(&mut cache));
        cache.dycoke = dycoke;
        let l = out.hidden.dims()[1];
        let po = PrefillOutput {
            // The head on the last row only.
            last_logits: self.head_rows(out.hidden, &[l - 1]),
            trace: out.trace,
            attention: out.attention,
            seq_lens: out.seq_lens,
        };
        (po, cache)
    }

    fn decode_step(&self, token: u32, cache: &mut KvCache<B>) -> Tensor<B, 2> {
        if cache.dycoke.is_some() {
            return dycoke::decode_step(self, token, cache);
        }
        let mut h = self.embed_ids(ids_tensor(&[token], &self.device()));
        for (i, layer) in self.model.layers.iter().enumerate() {
            let rope = self.rope.at(&[cache.next_pos[i]]);
            h = layer.forward(h, &rope, Some(&mut cache.layers[i]), &self.attention);
            cache.next_pos[i] += 1;
        }
        self.head_rows(h, &[0])
    }

    fn visual_kv_per_step(&self, cache: &KvCache<B>) -> Vec<usize> {
        cache
            .dycoke
            .as_ref()
            .map_or_else(Vec::new, |d| d.used.clone())
    }
}

/// Build the model and tokenizer of the pipeline's `[llm]` section, with its attention
/// keys. A random model's vocabulary is the tokenizer's size.
pub fn load_llm<B: HicoBackend>(
    cfg: &LlmConfig,
    device: &B::Device,
) -> Result<(CausalLm<B>, HicoTokenizer), LlmError> {
    let (implementation, block) = cfg.attention();
    let options = AttentionOptions {
        implementation,
        block,
    };
    match cfg {
        LlmConfig::Hf { path, .. } => {
            let tok = HicoTokenizer::from_file(&path.join("tokenizer.json"))?;
            Ok((
                CausalLm::load_hf(path, device)?.with_attention(options),
                tok,
            ))
        }
        LlmConfig::Random {
            family,
            hidden_size,
            intermediate_size,
            num_hidden_layers,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rope_theta,
            rope_scaling,
            rms_norm_eps,
            tie_word_embeddings,
            tokenizer,
            ..
        } => {
            let tok = HicoTokenizer::named(tokenizer)?;
            let mut spec = LlmSpec::tiny(
                family,
                tok.vocab_size(),
                *hidden_size,
                *intermediate_size,
                *num_hidden_layers,
                *num_attention_heads,
                *num_key_value_heads,
            )?;
            if let Some(d) = head_dim {
                spec.head_dim = *d;
            }
            spec.rope_theta = *rope_theta;
            spec.rope_scaling = *rope_scaling;
            spec.rms_norm_eps = *rms_norm_eps;
            spec.tie_word_embeddings = *tie_word_embeddings;
            Ok((CausalLm::random(&spec, device).with_attention(options), tok))
        }
    }
}
