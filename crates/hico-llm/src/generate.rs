//! Token generation with a KV cache: transformers' logits processors and greedy or seeded
//! sampling ([`crate::sampling`]); stops at a stop id or `max_new_tokens`.

use burn::tensor::{Tensor, backend::Backend};
use hico_backend::HicoBackend;
use hico_core::config::GenerationConfig;
use hico_core::{LanguageModel, PrefillInput, PrefillOutput};
use rand::{SeedableRng, rngs::StdRng};

use crate::sampling::choose;

/// The result of [`generate`].
#[derive(Debug, Clone)]
pub struct Generation<B: Backend> {
    /// Generated ids (the stop id, if hit, included last).
    pub tokens: Vec<u32>,
    /// What the prefill reported (trace, captures, sequence lengths).
    pub prefill: PrefillOutput<B>,
    /// Visual cache entries each decode step attended to, one per decode step (the first
    /// token comes from the prefill), when the input's `[kv_cache]` prunes them; else empty.
    pub visual_kv_per_step: Vec<usize>,
}

/// Pick the next token from `[1, vocab]` logits; `seen` are the ids the repetition penalty
/// looks at.
pub fn pick<B: HicoBackend>(
    logits: Tensor<B, 2>,
    seen: &[u32],
    cfg: &GenerationConfig,
    rng: &mut StdRng,
) -> u32 {
    let v: Vec<f32> = logits
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 logits");
    choose(v, seen, cfg, rng)
}

/// Prefill `input`, then decode up to `cfg.max_new_tokens` tokens, calling `on_token` for
/// each as it is produced. The repetition penalty sees `prompt_ids` and the generated ids:
/// pass the prompt's ids for text generation (as transformers' `generate(input_ids)`), none
/// for a prompt given as embeddings (as `generate(inputs_embeds)`, how LLaVA-style video
/// models such as VideoChat-Flash call it).
pub fn generate<B: HicoBackend, M: LanguageModel<B>>(
    model: &M,
    input: PrefillInput<B>,
    prompt_ids: &[u32],
    cfg: &GenerationConfig,
    stop: &[u32],
    mut on_token: impl FnMut(u32),
) -> Generation<B> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (prefill, mut cache) = model.prefill(input);
    let mut logits = prefill.last_logits.clone();
    let mut seen = prompt_ids.to_vec();
    let mut tokens = Vec::new();
    while tokens.len() < cfg.max_new_tokens {
        let t = pick(logits, &seen, cfg, &mut rng);
        tokens.push(t);
        seen.push(t);
        on_token(t);
        if stop.contains(&t) || tokens.len() == cfg.max_new_tokens {
            break;
        }
        logits = model.decode_step(t, &mut cache);
    }
    let visual_kv_per_step = model.visual_kv_per_step(&cache);
    Generation {
        tokens,
        prefill,
        visual_kv_per_step,
    }
}
