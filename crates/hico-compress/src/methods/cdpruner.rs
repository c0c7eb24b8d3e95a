//! `cdpruner`: CDPruner, "Beyond Attention or Similarity: Maximizing Conditional Diversity
//! for Token Pruning in MLLMs" (Zhang et al., NeurIPS 2025, arXiv 2506.10967).
//!
//! Official code: `Theia-4869/CDPruner`, `llava/model/llava_arch.py`,
//! `LlavaMetaForCausalLM.encode_images()` (the `[CDPruner]` blocks: cosine similarity,
//! query relevance, kernel, fast MAP inference of the conditional DPP), with the text
//! embeddings from `llava/model/multimodal_encoder/clip_encoder.py`, `CLIPVisionTower.forward()`.
//!
//! The official code prunes each image of the batch that `encode_images()` receives (a video's
//! frames in LLaVA's video path) to `visual_token_num` tokens; the relevance is min-max
//! normalised over the whole batch. hico follows that structure with the frames as the batch:
//! 1. Unit rows `x̂` of the tokens; per frame the similarity `S = x̂ x̂ᵀ`.
//! 2. Relevance of every token: the mean over the query rows `q̂_m` (unit) of `−x̂ · q̂_m` (the
//!    official code negates the cosine), then `r = (r − min r + 1e-6) / (max r − min r)` with
//!    min and max over all `t·n` tokens.
//! 3. Per frame the kernel `L = diag(r) S diag(r)` and the greedy MAP inference of the DPP
//!    (Chen et al.'s fast incremental Cholesky): pick `argmax d²` (ties to the lower index),
//!    `e = (L[j] − Σ cᵢ[j] cᵢ) / √d²[j]`, `d² −= e²`, `d²[j] = −∞`, `visual_token_num` times.
//! 4. Each frame's picks sorted ascending (`torch.sort`, then a boolean mask): output in time
//!    order.

use serde::{Deserialize, Serialize};

use crate::util::{dot, normalize_rows, rows_f64};
use crate::{CompressError, Input, Needs, Plan, Result, Rule};

/// Parameters of `cdpruner`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cdpruner {
    /// Tokens kept per frame (per image of the batch in the official code,
    /// `LlavaLlamaForCausalLM.visual_token_num`).
    pub visual_token_num: usize,
}

impl Default for Cdpruner {
    /// 32 per frame: the official README's per-image setting for LLaVA-NeXT's batch of
    /// crops ("32 * 5 = 160"); the repository ships no video script.
    fn default() -> Self {
        Self {
            visual_token_num: 32,
        }
    }
}

/// Min-max normalised relevance of every row of `xn` (unit, `c` wide) to the unit query rows
/// `qn`: the official `(−cos).mean()`, then `(r − min + 1e-6) / (max − min)`. A constant
/// relevance (max = min, a division by zero in the official code) becomes all ones, which
/// leaves the DPP picks as they would be for any constant.
pub fn relevance(xn: &[f64], qn: &[f64], c: usize) -> Vec<f64> {
    let q = qn.len() / c;
    let raw: Vec<f64> = xn
        .chunks_exact(c)
        .map(|x| qn.chunks_exact(c).map(|qm| -dot(x, qm)).sum::<f64>() / q as f64)
        .collect();
    let lo = raw.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = raw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if hi > lo {
        raw.iter().map(|&v| (v - lo + 1e-6) / (hi - lo)).collect()
    } else {
        vec![1.0; raw.len()]
    }
}

/// Greedy MAP inference of the DPP with kernel `L = diag(r) x̂ x̂ᵀ diag(r)` over the rows of
/// one frame: `k` local indices in selection order. When no token has a positive residual
/// `d²` left (the kernel's rank is spent, e.g. identical tokens), the official code divides
/// by `√0` (NaN); hico fills the rest with the unpicked tokens in index order.
pub fn dpp_greedy(xn: &[f64], r: &[f64], c: usize, k: usize) -> Vec<usize> {
    let n = r.len();
    let row = |i: usize| &xn[i * c..(i + 1) * c];
    let kernel: Vec<f64> = (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| r[i] * dot(row(i), row(j)) * r[j])
        .collect();
    let mut cis: Vec<Vec<f64>> = Vec::with_capacity(k);
    let mut di2s: Vec<f64> = (0..n).map(|i| kernel[i * n + i]).collect();
    let mut picked = Vec::with_capacity(k);
    let mut taken = vec![false; n];
    for _ in 0..k {
        let mut j = 0;
        for (i, &v) in di2s.iter().enumerate() {
            if v > di2s[j] {
                j = i;
            }
        }
        if di2s[j].is_nan() || di2s[j] <= 0.0 {
            break;
        }
        let norm = di2s[j].sqrt();
        let eis: Vec<f64> = (0..n)
            .map(|m| {
                let proj: f64 = cis.iter().map(|ci| ci[j] * ci[m]).sum();
                (kernel[j * n + m] - proj) / norm
            })
            .collect();
        for (d, e) in di2s.iter_mut().zip(&eis) {
            *d -= e * e;
        }
        di2s[j] = f64::NEG_INFINITY;
        cis.push(eis);
        picked.push(j);
        taken[j] = true;
    }
    let rest: Vec<usize> = (0..n).filter(|&i| !taken[i]).collect();
    picked.extend(rest.into_iter().take(k - picked.len()));
    picked
}

impl Rule for Cdpruner {
    const KIND: &'static str = "cdpruner";

    fn needs(&self) -> Needs {
        Needs {
            query: true,
            ..Needs::default()
        }
    }

    fn plan(&self, x: &Input) -> Result<Plan> {
        let k = self.visual_token_num;
        if k == 0 || k > x.n {
            return Err(CompressError::Param {
                method: "cdpruner",
                param: "visual_token_num",
                msg: format!("{k} tokens per frame; use 1 ..= n = {}", x.n),
            });
        }
        let (q, _) = x.require_query("cdpruner")?;
        let xn = normalize_rows(&rows_f64(x), x.c);
        let qn = normalize_rows(&q.iter().map(|&v| v as f64).collect::<Vec<_>>(), x.c);
        let r = relevance(&xn, &qn, x.c);
        let span = x.n * x.c;
        let mut kept = Vec::with_capacity(x.t * k);
        for f in 0..x.t {
            let rf = &r[f * x.n..(f + 1) * x.n];
            let mut sel = dpp_greedy(&xn[f * span..(f + 1) * span], rf, x.c, k);
            sel.sort_unstable();
            kept.extend(sel.into_iter().map(|i| f * x.n + i));
        }
        Ok(Plan::keep(kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_beyond_the_frame_names_the_parameter() {
        let data = [1.0f32; 8];
        let query = [1.0f32, 0.0];
        let mut x = Input::new(&data, 2, 2, 2).unwrap();
        x.query = Some((&query, 1));
        let e = Cdpruner {
            visual_token_num: 3,
        }
        .plan(&x)
        .unwrap_err();
        assert!(e.to_string().contains("visual_token_num"), "{e}");
    }

    #[test]
    fn orthogonal_tokens_go_by_relevance_and_identical_ones_fill_in_order() {
        // Orthogonal tokens: S = I, so d² = r² and the picks follow r (highest first). The
        // official relevance is the *negated* cosine: token 2 (opposite the query) first.
        let xn = [1.0, 0.0, 0.0, 1.0, -1.0, 0.0];
        let qn = [1.0, 0.0];
        let r = relevance(&xn, &qn, 2);
        assert_eq!(r[2], (1.0 - (-1.0) + 1e-6) / 2.0);
        // Tokens 0 and 2 are collinear (S = −1 between them): after 2, token 0 has no
        // residual left; token 1 is next, then the fill takes token 0.
        assert_eq!(dpp_greedy(&xn, &r, 2, 3), vec![2, 1, 0]);
        // Identical tokens: rank one, the first pick then the lowest unpicked.
        let same = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        assert_eq!(dpp_greedy(&same, &[1.0; 3], 2, 2), vec![0, 1]);
    }
}
