//! hico-llm: the decoder LLM of the pipeline. A Qwen2 / Qwen2.5 model over any burn backend
//! ([`Qwen2`]) loaded from and saved to Hugging Face directories, its tokenizer and chat
//! template ([`HicoTokenizer`], [`chat_prompt`]), KV-cache generation ([`generate`]), and
//! progressive visual dropout executed inside prefill ([`build_schedule`], `prefill`).

pub mod attention;
pub mod cache;
mod config;
mod error;
pub mod generate;
pub mod model;
pub mod prefill;
pub mod rotary;
pub mod schedule;
pub mod tokenizer;
mod weights;

use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use hico_core::config::LlmConfig;
use hico_core::{LanguageModel, LlmShape, PrefillInput, PrefillOutput};

pub use cache::KvCache;
pub use config::Qwen2Config;
pub use error::{LlmError, ShapeMismatch};
pub use generate::{Generation, generate};
pub use model::Qwen2;
pub use rotary::Rope;
pub use schedule::build_schedule;
pub use tokenizer::{HicoTokenizer, chat_prompt};

impl<B: Backend> Qwen2<B> {
    /// Training forward: executes the plan and returns every surviving position's logits
    /// and, per output row, the input position it came from (text is never dropped).
    ///
    /// # Shapes
    /// - `input.embeds`: `[1, L, hidden]` → logits `[1, L', vocab]`, `L'` ≤ L
    pub fn forward_train(&self, input: PrefillInput<B>) -> (Tensor<B, 3>, Vec<usize>) {
        let out = self.run(input, None);
        (self.head(out.hidden), out.src)
    }

    /// Plain forward over token ids (no drop): `[1, L]` → `[1, L, vocab]`.
    pub fn forward_ids(&self, ids: &[u32]) -> Tensor<B, 3> {
        let embeds = self.embed_ids(ids_tensor(ids, &self.device()));
        self.forward_train(text_input(embeds)).0
    }
}

/// `[1, L]` id tensor.
pub fn ids_tensor<B: Backend>(ids: &[u32], device: &B::Device) -> Tensor<B, 2, Int> {
    let v: Vec<i64> = ids.iter().map(|&i| i64::from(i)).collect();
    Tensor::from_data(TensorData::new(v, [1, ids.len()]), device)
}

/// A text-only prefill input (no visual block, no drop, no capture).
pub fn text_input<B: Backend>(embeds: Tensor<B, 3>) -> PrefillInput<B> {
    PrefillInput {
        embeds,
        visual_start: 0,
        visual_len: 0,
        plan: Default::default(),
        queries: Vec::new(),
        capture_layers: Vec::new(),
    }
}

impl<B: Backend> LanguageModel<B> for Qwen2<B> {
    type Cache = KvCache<B>;

    fn shape(&self) -> LlmShape {
        self.config.shape()
    }

    fn embed(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.embed_ids(ids)
    }

    fn prefill(&self, input: PrefillInput<B>) -> (PrefillOutput<B>, KvCache<B>) {
        let mut cache = KvCache::new(self.model.layers.len());
        let out = self.run(input, Some(&mut cache));
        let l = out.hidden.dims()[1];
        let last = out.hidden.slice([0..1, l - 1..l]);
        let logits = self.head(last).reshape([1, self.config.vocab_size]);
        let po = PrefillOutput {
            last_logits: logits,
            trace: out.trace,
            attention: out.attention,
            seq_lens: out.seq_lens,
        };
        (po, cache)
    }

    fn decode_step(&self, token: u32, cache: &mut KvCache<B>) -> Tensor<B, 2> {
        let device = self.device();
        let mut h = self.embed_ids(ids_tensor(&[token], &device));
        let hd = self.config.head_dim();
        for (i, layer) in self.model.layers.iter().enumerate() {
            let rope = Rope::new(&[cache.next_pos[i]], hd, self.config.theta(), &device);
            h = layer.forward(h, &rope, Some(&mut cache.layers[i]));
            cache.next_pos[i] += 1;
        }
        self.head(h).reshape([1, self.config.vocab_size])
    }
}

/// Build the model and tokenizer of the pipeline's `[llm]` section. A random model's
/// vocabulary is the tokenizer's size.
pub fn load_llm<B: Backend>(
    cfg: &LlmConfig,
    device: &B::Device,
) -> Result<(Qwen2<B>, HicoTokenizer), LlmError> {
    match cfg {
        LlmConfig::Hf { path } => {
            let tok = HicoTokenizer::from_file(&path.join("tokenizer.json"))?;
            Ok((Qwen2::load_hf(path, device)?, tok))
        }
        LlmConfig::Random {
            hidden_size,
            intermediate_size,
            num_hidden_layers,
            num_attention_heads,
            num_key_value_heads,
            rope_theta,
            rms_norm_eps,
            tie_word_embeddings,
            tokenizer,
        } => {
            let tok = if tokenizer == "byte_level" {
                HicoTokenizer::byte_level()
            } else {
                HicoTokenizer::from_file(std::path::Path::new(tokenizer))?
            };
            let qc = Qwen2Config::tiny(
                tok.vocab_size(),
                *hidden_size,
                *intermediate_size,
                *num_hidden_layers,
                *num_attention_heads,
                *num_key_value_heads,
                *rope_theta,
                *rms_norm_eps,
                *tie_word_embeddings,
            );
            Ok((Qwen2::new(&qc, device), tok))
        }
    }
}

impl<B: Backend> Qwen2<B> {
    /// The device the weights live on.
    pub fn device(&self) -> B::Device {
        self.model.embed_tokens.weight.device()
    }
}
