//! A release-shaped directory with random weights: the real keys, shapes and config fields
//! of a release for a given pipeline shape (e.g. `configs/videochat_flash_2b_shape.toml`),
//! written without ever holding the f32 model: parameters stay lazy, each is drawn, converted
//! and dropped in turn, so memory peaks at the written bytes plus one tensor.

use hico_backend::HicoBackend;
use std::path::Path;

use burn::module::Param;
use burn::prelude::*;
use burn::tensor::Distribution;
use hico_core::config::{LlmConfig, PipelineConfig};
use hico_llm::{HicoTokenizer, LlmSpec};
use hico_vision::{Connector, UmtEncoder};
use hico_weights::{Layout, Saver, WeightVisitor};

use super::export::{ExportOptions, walk_release, write_side_files, write_unused_heads};
use crate::{ModelError, VideoLlm};

/// Draws each visited parameter (norm weights 1, biases 0, other weights N(0, 0.02)) into
/// a [`Saver`], leaving the module's own parameter untouched (lazy).
struct RandomFill<'a, B: Backend> {
    saver: &'a mut Saver,
    device: B::Device,
}

impl<B: HicoBackend> WeightVisitor<B> for RandomFill<'_, B> {
    fn param<const D: usize>(
        &mut self,
        key: &str,
        param: &mut Param<Tensor<B, D>>,
        layout: Layout,
    ) {
        let shape = param.lazy_shape();
        let norm = key.contains("norm") && key.ends_with(".weight");
        let t = if norm {
            Tensor::<B, D>::ones(shape, &self.device)
        } else if key.ends_with("bias") {
            Tensor::<B, D>::zeros(shape, &self.device)
        } else {
            Tensor::<B, D>::random(shape, Distribution::Normal(0.0, 0.02), &self.device)
        };
        let mut tmp = Param::from_tensor(t);
        <Saver as WeightVisitor<B>>::param(self.saver, key, &mut tmp, layout);
    }
}

/// The Qwen2 decoder of a `[llm] kind = "random"` section, vocabulary `vocab`.
fn qwen2_spec(llm: &LlmConfig, vocab: usize) -> Result<(LlmSpec, &str), ModelError> {
    let LlmConfig::Random {
        hidden_size,
        intermediate_size,
        num_hidden_layers,
        num_attention_heads,
        num_key_value_heads,
        rope_theta,
        rms_norm_eps,
        tie_word_embeddings,
        tokenizer,
        ..
    } = llm
    else {
        return Err(ModelError::Invalid(
            "a random release needs `[llm] kind = \"random\"` (its shape) with a tokenizer.json path"
                .into(),
        ));
    };
    let mut spec = LlmSpec::tiny(
        "qwen2",
        vocab,
        *hidden_size,
        *intermediate_size,
        *num_hidden_layers,
        *num_attention_heads,
        *num_key_value_heads,
    )?;
    spec.rope_theta = *rope_theta;
    spec.rms_norm_eps = *rms_norm_eps;
    spec.tie_word_embeddings = *tie_word_embeddings;
    Ok((spec, tokenizer))
}

/// Write a release directory `out` with random weights for the shapes of `cfg` (its LLM
/// section must be `random`, with a tokenizer.json path, copied as `tokenizer.json`); the
/// LLM's vocabulary is `vocab` rows (the released Qwen2.5 models pad 151,665 tokens to
/// 151,936), the tokenizer's size when `None`.
pub fn write_random_release<B: HicoBackend>(
    cfg: &PipelineConfig,
    vocab: Option<usize>,
    out: &Path,
    opts: &ExportOptions,
    device: &Device<B>,
) -> Result<(), ModelError> {
    let (_, tokenizer) = qwen2_spec(&cfg.llm, 0)?;
    let tok = HicoTokenizer::named(tokenizer)?;
    let vocab = vocab.unwrap_or_else(|| tok.vocab_size());
    let (spec, tokenizer) = qwen2_spec(&cfg.llm, vocab)?;
    let mut model = VideoLlm {
        encoder: UmtEncoder::new(&cfg.vision, device),
        connector: Connector::new(&cfg.connector, cfg.vision.width, spec.hidden_size, device),
        llm: hico_llm::CausalLm::init(&spec, device),
    };
    // The built-in byte-level tokenizer is written out as the release's tokenizer.json.
    let built_in = (tokenizer == "byte_level").then(|| out.join(".byte_level.tokenizer.json"));
    if let Some(p) = &built_in {
        std::fs::create_dir_all(out).map_err(|source| ModelError::Io {
            path: out.to_owned(),
            source,
        })?;
        tok.save(p)?;
    }
    let tok_path = built_in
        .clone()
        .unwrap_or_else(|| Path::new(tokenizer).to_owned());
    let side = write_side_files(cfg, spec.to_hf(), &tok_path, out, opts);
    if let Some(p) = &built_in {
        let _ = std::fs::remove_file(p);
    }
    side?;
    let mut saver = Saver::new(opts.dtype);
    walk_release(
        &mut model,
        &mut RandomFill::<B> {
            saver: &mut saver,
            device: device.clone(),
        },
    );
    drop(model);
    write_unused_heads::<B>(&mut saver, cfg.vision.width, spec.hidden_size, device);
    saver.write_dir(out, opts.max_shard_bytes)?;
    Ok(())
}
