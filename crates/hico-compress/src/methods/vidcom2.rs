//! `vidcom2`: VidCom², frame-uniqueness budgets and outlier tokens within each frame.
//!
//! Paper: Liu et al., "Video Compression Commander: Plug-and-Play Inference Acceleration for
//! Video Large Language Models", EMNLP 2025 (arXiv:2505.14454). Official code:
//! `xuyang-liu16/VidCom2`, `token_compressor/vidcom2/vidcom2.py`, `vidcom2_compression()`
//! with its helpers `select_low_var_channels()`, `compute_gaussian_scores()`,
//! `compute_scales()`, `select_outlier_indices()` and the `llava_ov` linear index mapping
//! (`_map_linear_offset()`).
//!
//! The rule, as the official code runs it on a video's `[T·N, C]` tokens:
//! 1. keep the `int(C · 0.5)` channels of lowest (biased) variance over all tokens;
//! 2. L2-normalise every token on those channels; the video centre is the mean of all
//!    normalised tokens, a frame's centre the mean of its own;
//! 3. score each token against both centres with a multi-scale Gaussian kernel
//!    `Σ_{a ∈ {1/8, 1/4, 1/2, 1, 2}} exp(−‖x − centre‖² / 2a)` (high = typical);
//! 4. frame uniqueness `s_f = −mean_n(video score)`; `p = softmax((s − max s) / temp)`;
//!    frame `f` keeps `k_f = max(1, round(min(1, base_scale · (1 + p_f − mean p)) · N))`;
//! 5. in each frame keep the `k_f` tokens of lowest `video score + frame score` (the most
//!    distinct), in ascending position; frames in time order.

use serde::{Deserialize, Serialize};

use crate::util::{argsort_asc, normalize_rows, py_round, rows_f64};
use crate::{CompressError, Input, Plan, Result, Rule};

/// Bandwidths of the multi-scale Gaussian kernel (`2**k for k in range(-3, 2)` officially).
pub const ALPHAS: [f64; 5] = [0.125, 0.25, 0.5, 1.0, 2.0];

/// Fraction of the channels kept for scoring (`select_low_var_channels(ratio=0.5)`).
pub const CHANNEL_RATIO: f64 = 0.5;

/// Parameters of `vidcom2`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Vidcom2 {
    /// Base retention ratio of every frame, before the uniqueness adjustment (the
    /// `R_RATIO` environment variable of the official scripts, default 0.25).
    pub base_scale: f64,
    /// Softmax temperature of the frame-uniqueness allocation (`compute_scales(temp=0.01)`).
    pub temp: f64,
}

impl Default for Vidcom2 {
    fn default() -> Self {
        Self {
            base_scale: 0.25,
            temp: 0.01,
        }
    }
}

impl Vidcom2 {
    fn check(&self) -> Result<()> {
        if !(self.base_scale > 0.0 && self.base_scale <= 1.0) {
            return Err(CompressError::Param {
                method: Self::KIND,
                param: "base_scale",
                msg: format!("{} is not a retention ratio in (0, 1]", self.base_scale),
            });
        }
        if !(self.temp > 0.0 && self.temp.is_finite()) {
            return Err(CompressError::Param {
                method: Self::KIND,
                param: "temp",
                msg: format!("{} is not a positive finite temperature", self.temp),
            });
        }
        Ok(())
    }
}

/// The `int(c · 0.5)` channels of lowest biased variance over all `rows` (each `c` wide),
/// lowest first, ties to the lower channel (`select_low_var_channels()`).
pub fn select_low_var_channels(rows: &[f64], c: usize) -> Vec<usize> {
    let count = (rows.len() / c).max(1) as f64;
    let mut mean = vec![0f64; c];
    for row in rows.chunks_exact(c) {
        mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= count);
    let mut var = vec![0f64; c];
    for row in rows.chunks_exact(c) {
        for ((s, v), m) in var.iter_mut().zip(row).zip(&mean) {
            *s += (v - m) * (v - m);
        }
    }
    var.iter_mut().for_each(|s| *s /= count);
    let k = (c as f64 * CHANNEL_RATIO) as usize;
    let mut idx = argsort_asc(&var);
    idx.truncate(k);
    idx
}

/// Multi-scale Gaussian similarity of each row (`d` wide) to `center`.
fn multi_scale_gaussian(row: &[f64], center: &[f64]) -> f64 {
    let dist_sq: f64 = row.iter().zip(center).map(|(x, m)| (x - m) * (x - m)).sum();
    ALPHAS.iter().map(|a| (-dist_sq / (2.0 * a)).exp()).sum()
}

/// `(video score, frame score)` of every token, `[t·n]` each, from the selected channels
/// `sel` (`[t·n, d]`, `d ≥ 1`) normalised per token (`compute_gaussian_scores()`).
pub fn compute_gaussian_scores(sel: &[f64], t: usize, n: usize, d: usize) -> (Vec<f64>, Vec<f64>) {
    let frames = normalize_rows(sel, d);
    let row = |i: usize| &frames[i * d..(i + 1) * d];
    let center = |rows: std::ops::Range<usize>| {
        let mut acc = vec![0f64; d];
        let len = rows.len() as f64;
        for i in rows {
            acc.iter_mut().zip(row(i)).for_each(|(a, v)| *a += v);
        }
        acc.iter_mut().for_each(|a| *a /= len);
        acc
    };
    let vid_center = center(0..t * n);
    let mut v_score = Vec::with_capacity(t * n);
    let mut f_score = Vec::with_capacity(t * n);
    for f in 0..t {
        let frame_center = center(f * n..(f + 1) * n);
        for i in f * n..(f + 1) * n {
            v_score.push(multi_scale_gaussian(row(i), &vid_center));
            f_score.push(multi_scale_gaussian(row(i), &frame_center));
        }
    }
    (v_score, f_score)
}

/// Per-frame retention rates from frame scores: `min(1, base · (1 + p − mean p))` with
/// `p = softmax((s − max s) / temp)` (`compute_scales()`).
pub fn compute_scales(scores: &[f64], base: f64, temp: f64) -> Vec<f64> {
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let z: Vec<f64> = scores.iter().map(|s| (s - max) / temp).collect();
    let zmax = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = z.iter().map(|v| (v - zmax).exp()).collect();
    let sum: f64 = e.iter().sum();
    let probs: Vec<f64> = e.iter().map(|v| v / sum).collect();
    let mean = probs.iter().sum::<f64>() / probs.len() as f64;
    probs
        .iter()
        .map(|p| (base * (1.0 + p - mean)).min(1.0))
        .collect()
}

/// Per frame, the `max(1, round(scale · n))` positions of lowest score, ascending
/// (`select_outlier_indices()`; ties to the lower position).
pub fn select_outlier_indices(scores: &[f64], scales: &[f64], n: usize) -> Vec<Vec<usize>> {
    scales
        .iter()
        .enumerate()
        .map(|(f, &s)| {
            let k = py_round(s * n as f64).max(1) as usize;
            let mut idx = argsort_asc(&scores[f * n..(f + 1) * n]);
            idx.truncate(k);
            idx.sort_unstable();
            idx
        })
        .collect()
}

impl Rule for Vidcom2 {
    const KIND: &'static str = "vidcom2";

    fn plan(&self, x: &Input) -> Result<Plan> {
        self.check()?;
        let (t, n, c) = (x.t, x.n, x.c);
        if c < 2 {
            // The official `view(-1, tpf, 0)` of zero scored channels fails.
            return Err(CompressError::Input {
                method: Self::KIND,
                msg: format!("`tokens` needs c ≥ 2 channels (int(c·0.5) are scored); got c = {c}"),
            });
        }
        let rows = rows_f64(x);
        let channels = select_low_var_channels(&rows, c);
        let d = channels.len();
        let sel: Vec<f64> = rows
            .chunks_exact(c)
            .flat_map(|r| channels.iter().map(move |&j| r[j]))
            .collect();
        let (v_score, f_score) = compute_gaussian_scores(&sel, t, n, d);
        let frame_scores: Vec<f64> = v_score
            .chunks_exact(n)
            .map(|s| -(s.iter().sum::<f64>() / n as f64))
            .collect();
        let scales = compute_scales(&frame_scores, self.base_scale, self.temp);
        let combined: Vec<f64> = v_score.iter().zip(&f_score).map(|(a, b)| a + b).collect();
        let indices = select_outlier_indices(&combined, &scales, n);
        Ok(Plan::keep(indices.into_iter().enumerate().flat_map(
            |(f, idx)| idx.into_iter().map(move |i| f * n + i),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_follow_frame_uniqueness() {
        // Three equal frame scores: every frame keeps base_scale of its tokens.
        let s = compute_scales(&[0.0, 0.0, 0.0], 0.25, 0.01);
        assert!(s.iter().all(|&v| (v - 0.25).abs() < 1e-15));
        // One clearly unique frame takes (almost) all the extra budget: p ≈ (1, 0).
        let s = compute_scales(&[1.0, 0.0], 0.5, 0.01);
        assert!((s[0] - 0.75).abs() < 1e-12 && (s[1] - 0.25).abs() < 1e-12);
        // Rates are clamped to 1; budgets round half to even and keep at least one token.
        let s = compute_scales(&[1.0, 0.0], 1.0, 0.01);
        assert_eq!(s[0], 1.0);
        // round(1.5) = 2, round(0.03) = 0 → 1, round(2.5) = 2; kept positions ascending.
        let idx = select_outlier_indices(&[3.0, 1.0, 2.0, 0.0, 5.0, 4.0], &[0.5, 0.01], 3);
        assert_eq!(idx, vec![vec![1, 2], vec![0]]);
        let idx = select_outlier_indices(&[3.0, 1.0, 2.0, 0.0], &[0.625], 4);
        assert_eq!(idx, vec![vec![1, 3]]);
    }

    #[test]
    fn keeps_the_most_distinct_tokens_per_frame_in_order() {
        // One frame of four 2-channel tokens; only the low-variance channel 1 is scored.
        // Token 2 points the other way and is kept (k = round(0.25 · 4) = 1).
        let data = [1.0, 1.0, 2.0, 1.0, 3.0, -1.0, 4.0, 1.0];
        let x = Input::new(&data, 1, 4, 2).unwrap();
        let plan = Vidcom2::default().plan(&x).unwrap();
        assert_eq!(plan.source(), vec![2]);
    }

    #[test]
    fn rejects_what_is_not_a_ratio_or_a_temperature() {
        let data = [0.0f32; 8];
        let x = Input::new(&data, 1, 4, 2).unwrap();
        for (m, param) in [
            (
                Vidcom2 {
                    base_scale: 0.0,
                    ..Vidcom2::default()
                },
                "base_scale",
            ),
            (
                Vidcom2 {
                    base_scale: f64::NAN,
                    ..Vidcom2::default()
                },
                "base_scale",
            ),
            (
                Vidcom2 {
                    temp: 0.0,
                    ..Vidcom2::default()
                },
                "temp",
            ),
        ] {
            let e = m.plan(&x).unwrap_err().to_string();
            assert!(e.contains(param), "{e}");
        }
        let one_channel = Input::new(&data[..4], 1, 4, 1).unwrap();
        let e = Vidcom2::default()
            .plan(&one_channel)
            .unwrap_err()
            .to_string();
        assert!(e.contains("c ≥ 2"), "{e}");
    }
}
