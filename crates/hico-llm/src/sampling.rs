//! Choosing the next token from logits as transformers' `generate` does: the logits
//! processors in transformers' order (repetition penalty, then, when sampling, temperature,
//! top-k, top-p), then argmax (greedy, `temperature == 0`) or a seeded draw from the softmax.
//! Each processor works on one row of logits on the host, with transformers' rules for ties
//! and for what is always kept.

use hico_core::config::GenerationConfig;
use rand::{Rng, rngs::StdRng};

/// `RepetitionPenaltyLogitsProcessor`: each id in `seen` (counted once however often it
/// occurs) has its logit divided by `penalty` when positive, multiplied when negative.
pub fn repetition_penalty(scores: &mut [f32], seen: &[u32], penalty: f32) {
    let mut hit = vec![false; scores.len()];
    for &t in seen {
        if let Some(h) = hit.get_mut(t as usize) {
            *h = true;
        }
    }
    for (s, _) in scores.iter_mut().zip(&hit).filter(|(_, h)| **h) {
        *s = if *s < 0.0 { *s * penalty } else { *s / penalty };
    }
}

/// `TemperatureLogitsWarper`: every logit divided by `t`.
pub fn temperature(scores: &mut [f32], t: f32) {
    scores.iter_mut().for_each(|s| *s /= t);
}

/// `TopKLogitsWarper`: logits below the `k`-th largest become −∞ (ties with it are kept).
pub fn top_k(scores: &mut [f32], k: usize) {
    let k = k.clamp(1, scores.len());
    let mut sorted = scores.to_vec();
    sorted.sort_unstable_by(|a, b| b.total_cmp(a));
    let kth = sorted[k - 1];
    scores
        .iter_mut()
        .filter(|s| **s < kth)
        .for_each(|s| *s = f32::NEG_INFINITY);
}

/// `TopPLogitsWarper`: sort ascending, and remove (−∞) the tokens whose cumulative softmax
/// mass is at most `1 − p`; the most likely token is always kept.
pub fn top_p(scores: &mut [f32], p: f32) {
    let n = scores.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let probs = softmax(&order.iter().map(|&i| scores[i]).collect::<Vec<_>>());
    let mut cum = 0.0f32;
    for (rank, (&i, q)) in order.iter().zip(probs).enumerate() {
        cum += q;
        if cum <= 1.0 - p && rank + 1 < n {
            scores[i] = f32::NEG_INFINITY;
        }
    }
}

/// Softmax of a row (`−∞` gives 0).
pub fn softmax(x: &[f32]) -> Vec<f32> {
    let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = x.iter().map(|&v| (v - m).exp()).collect();
    let z: f32 = e.iter().sum();
    e.into_iter().map(|v| v / z).collect()
}

/// Every processor `cfg` switches on, in transformers' order: repetition penalty (also when
/// greedy), then, when sampling (`temperature > 0`), temperature, top-k and top-p.
pub fn process(scores: &mut [f32], seen: &[u32], cfg: &GenerationConfig) {
    if cfg.repetition_penalty != 1.0 {
        repetition_penalty(scores, seen, cfg.repetition_penalty as f32);
    }
    if cfg.temperature <= 0.0 {
        return;
    }
    if cfg.temperature != 1.0 {
        temperature(scores, cfg.temperature as f32);
    }
    if cfg.top_k > 0 {
        top_k(scores, cfg.top_k);
    }
    if cfg.top_p < 1.0 {
        top_p(scores, cfg.top_p as f32);
    }
}

/// The next token from one row of logits: processed as [`process`], then the first
/// largest (greedy, `temperature == 0`) or a draw from the softmax with `rng`.
pub fn choose(mut scores: Vec<f32>, seen: &[u32], cfg: &GenerationConfig, rng: &mut StdRng) -> u32 {
    process(&mut scores, seen, cfg);
    if cfg.temperature <= 0.0 {
        let best = scores
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i);
        return best as u32;
    }
    let probs = softmax(&scores);
    let mut r = rng.random::<f32>();
    let mut last = 0;
    for (i, &q) in probs.iter().enumerate() {
        if q > 0.0 {
            if r < q {
                return i as u32;
            }
            r -= q;
            last = i;
        }
    }
    last as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn top_k_keeps_ties_and_top_p_keeps_the_best() {
        let mut s = vec![1.0, 3.0, 2.0, 2.0, 0.0];
        top_k(&mut s, 2);
        assert_eq!(s[1], 3.0);
        assert!(
            s[2] == 2.0 && s[3] == 2.0,
            "ties with the k-th are kept: {s:?}"
        );
        assert!(s[0].is_infinite() && s[4].is_infinite());
        let mut s = vec![0.0, 10.0, 0.0];
        top_p(&mut s, 0.01);
        assert_eq!(s.iter().filter(|x| x.is_finite()).count(), 1);
        assert_eq!(s[1], 10.0);
    }

    /// Draws follow the processed distribution: with top-k 2 only the two best appear, in
    /// proportion to their probabilities.
    #[test]
    fn draws_follow_the_processed_softmax() {
        let cfg = GenerationConfig {
            temperature: 1.0,
            top_k: 2,
            ..Default::default()
        };
        let logits = vec![0.0, (3.0f32).ln(), 5.0f32.ln() - 10.0, 0.0f32 - 1.0];
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0usize; 4];
        for _ in 0..4000 {
            counts[choose(logits.clone(), &[], &cfg, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[2] + counts[3], 0, "{counts:?}");
        let share = counts[1] as f64 / 4000.0; // 3 / (1 + 3)
        assert!((share - 0.75).abs() < 0.03, "{counts:?}");
    }
}
