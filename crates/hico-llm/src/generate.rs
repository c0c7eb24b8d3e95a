//! Token generation with a KV cache: greedy when `temperature == 0`, else seeded
//! temperature + nucleus (top-p) sampling; stops at a stop id or `max_new_tokens`.

use burn::tensor::{Tensor, backend::Backend};
use hico_core::config::GenerationConfig;
use hico_core::{LanguageModel, PrefillInput, PrefillOutput};
use rand::{Rng, SeedableRng, rngs::StdRng};

/// The result of [`generate`].
#[derive(Debug, Clone)]
pub struct Generation<B: Backend> {
    /// Generated ids (the stop id, if hit, included last).
    pub tokens: Vec<u32>,
    /// What the prefill reported (trace, captures, sequence lengths).
    pub prefill: PrefillOutput<B>,
}

/// Pick the next token from `[1, vocab]` logits.
pub fn pick<B: Backend>(logits: Tensor<B, 2>, cfg: &GenerationConfig, rng: &mut StdRng) -> u32 {
    let v: Vec<f32> = logits
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 logits");
    let argmax = |v: &[f32]| {
        v.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i)
    };
    if cfg.temperature <= 0.0 {
        return argmax(&v) as u32;
    }
    let t = cfg.temperature as f32;
    let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut probs: Vec<(usize, f32)> = v.iter().map(|&x| ((x - m) / t).exp()).enumerate().collect();
    let z: f32 = probs.iter().map(|p| p.1).sum();
    probs.iter_mut().for_each(|p| p.1 /= z);
    probs.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut mass = 0.0;
    let cut = probs
        .iter()
        .position(|p| {
            mass += p.1;
            mass >= cfg.top_p as f32
        })
        .map_or(probs.len(), |i| i + 1);
    let total: f32 = probs[..cut].iter().map(|p| p.1).sum();
    let mut r = rng.random::<f32>() * total;
    for &(i, p) in &probs[..cut] {
        if r < p {
            return i as u32;
        }
        r -= p;
    }
    probs[cut - 1].0 as u32
}

/// Prefill `input`, then decode up to `cfg.max_new_tokens` tokens, calling `on_token` for
/// each as it is produced.
pub fn generate<B: Backend, M: LanguageModel<B>>(
    model: &M,
    input: PrefillInput<B>,
    cfg: &GenerationConfig,
    stop: &[u32],
    mut on_token: impl FnMut(u32),
) -> Generation<B> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (prefill, mut cache) = model.prefill(input);
    let mut logits = prefill.last_logits.clone();
    let mut tokens = Vec::new();
    while tokens.len() < cfg.max_new_tokens {
        let t = pick(logits, cfg, &mut rng);
        tokens.push(t);
        on_token(t);
        if stop.contains(&t) || tokens.len() == cfg.max_new_tokens {
            break;
        }
        logits = model.decode_step(t, &mut cache);
    }
    Generation { tokens, prefill }
}
