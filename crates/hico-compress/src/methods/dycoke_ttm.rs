//! `dycoke_ttm`: DyCoke's temporal token merging (TTM), the stage that acts before the LLM.
//!
//! Tao et al., "DyCoke: Dynamic Compression of Tokens for Fast Video Large Language Models"
//! (CVPR 2025, arXiv 2411.15024); rule from `KD-TAO/DyCoke`, `llava/model/llava_arch.py`,
//! `dycole_ttm()` (sic). Frames are taken in windows of four, `a b c d`: `a` is kept whole,
//! `b` keeps its `int((1 − merging_ratio)·n)` tokens least similar (cosine, same grid
//! position) to `a`, `c` the same against `a`, `d` the same against `c`. Tokens are dropped,
//! not averaged. Output: frame order; a pruned frame's tokens in ascending similarity (the
//! order of `topk(largest=False)`), ties to the lower position.
//!
//! The official loops are reproduced as they run: pairs `(i, i+1)` for `i in range(0, t−1, 2)`
//! prune every odd frame against the frame before it; windows `i in range(0, t−4, 4)` then
//! prune frame `i+2` against frame `i`. So with an odd `t` the last frame, in no pair, is
//! dropped whole, and the last window of a `t` divisible by four keeps its frame `i+2` whole.
//! The official code fails for `t ≤ 4` (it stacks an empty list); so does this one.

use serde::{Deserialize, Serialize};

use crate::util::{argsort_asc, normalize_rows, rows_f64};
use crate::{CompressError, Input, Plan, Result, Rule};

/// Parameters of `dycoke_ttm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DycokeTtm {
    /// Fraction of a pruned frame's tokens removed (`dycoke_k` of the evaluation entry, passed
    /// as `dycole_ttm(merging_ratio=...)`); a pruned frame keeps `int((1 − merging_ratio)·n)`.
    pub merging_ratio: f64,
}

impl Default for DycokeTtm {
    /// `merging_ratio = 0.7`: `dycoke_k` of `lmms_eval/models/llava_onevision.py` (what
    /// `eval.sh` runs) and the README's example, also `dycole_ttm()`'s own default.
    fn default() -> Self {
        Self { merging_ratio: 0.7 }
    }
}

/// Cosine similarity of two rows as `torch.nn.functional.cosine_similarity`: each divided by
/// its norm clamped to at least `1e-8`, then the dot product.
pub fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let na = a.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-8);
    let nb = b.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-8);
    a.iter().zip(b).map(|(x, y)| (x / na) * (y / nb)).sum()
}

impl DycokeTtm {
    /// Tokens a pruned frame keeps of `n`: `int((1 − merging_ratio)·n)`, in the official order
    /// of operations; an error where `topk` cannot run (negative or more than `n`).
    pub fn keep_per_frame(&self, n: usize) -> Result<usize> {
        let k = ((1.0 - self.merging_ratio) * n as f64).trunc();
        if !(k >= 0.0 && k <= n as f64) {
            return Err(CompressError::Param {
                method: Self::KIND,
                param: "merging_ratio",
                msg: format!(
                    "{} keeps int((1 − ratio)·{n}) = {k} tokens of a pruned frame; topk needs \
                     0 ..= {n} (a ratio in [0, 1])",
                    self.merging_ratio
                ),
            });
        }
        Ok(k as usize)
    }
}

/// The positions a pruned frame keeps, given its same-position similarities to its anchor
/// frame: the `keep` least similar, ascending similarity, ties to the lower position.
fn least_similar(sims: &[f64], keep: usize) -> Vec<usize> {
    let mut idx = argsort_asc(sims);
    idx.truncate(keep);
    idx
}

impl Rule for DycokeTtm {
    const KIND: &'static str = "dycoke_ttm";

    fn plan(&self, x: &Input) -> Result<Plan> {
        let (t, n, c) = (x.t, x.n, x.c);
        if t <= 4 {
            return Err(CompressError::Input {
                method: Self::KIND,
                msg: format!(
                    "`tokens` has t = {t} frames; the official dycole_ttm() needs at least 5 (it \
                     stacks an empty list of window similarities otherwise)"
                ),
            });
        }
        let keep = self.keep_per_frame(n)?;
        let raw = rows_f64(x);
        let unit = normalize_rows(&raw, c);
        // Same-position cosine similarities of frames `f1` and `f2` of `d` (`[t·n, c]`).
        let sims = |d: &[f64], f1: usize, f2: usize| -> Vec<f64> {
            let (a, b) = (
                &d[f1 * n * c..(f1 + 1) * n * c],
                &d[f2 * n * c..(f2 + 1) * n * c],
            );
            a.chunks_exact(c)
                .zip(b.chunks_exact(c))
                .map(|(u, v)| cosine(u, v))
                .collect()
        };
        // Per frame, the positions output, in output order (frame t−1 of an odd t stays empty).
        let mut frames: Vec<Vec<usize>> = vec![Vec::new(); t];
        // Pairs: the official code L2-normalizes both frames before `cosine_similarity`.
        for i in (0..t - 1).step_by(2) {
            frames[i] = (0..n).collect();
            frames[i + 1] = least_similar(&sims(&unit, i, i + 1), keep);
        }
        // Windows: frame i+2 (whole after the pairs) against the raw frame i; replaces it.
        for i in (0..t - 4).step_by(4) {
            frames[i] = (0..n).collect();
            frames[i + 2] = least_similar(&sims(&raw, i, i + 2), keep);
        }
        Ok(Plan::keep(
            frames
                .iter()
                .enumerate()
                .flat_map(|(f, ps)| ps.iter().map(move |&p| f * n + p)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: &[f32], t: usize, n: usize, c: usize, ratio: f64) -> Result<Vec<i64>> {
        let x = Input::new(data, t, n, c)?;
        let m = crate::Method::DycokeTtm(DycokeTtm {
            merging_ratio: ratio,
        });
        Ok(m.plan(&x)?.source())
    }

    #[test]
    fn ratios_topk_cannot_run_are_refused() {
        let d = DycokeTtm {
            merging_ratio: -0.5,
        };
        let e = d.keep_per_frame(196).unwrap_err().to_string();
        assert!(e.contains("merging_ratio"), "{e}");
        // 1 − 0.7 = 0.30000000000000004 in f64: int(58.8) = 58, as the official code.
        assert_eq!(DycokeTtm::default().keep_per_frame(196).unwrap(), 58);
        // Slightly above 1 still truncates to 0 kept tokens, as int() does.
        let d = DycokeTtm {
            merging_ratio: 1.001,
        };
        assert_eq!(d.keep_per_frame(196).unwrap(), 0);
    }

    #[test]
    fn four_frames_or_fewer_are_refused() {
        let data = vec![1.0f32; 4 * 2 * 2];
        let e = run(&data, 4, 2, 2, 0.5).unwrap_err().to_string();
        assert!(e.contains("t = 4"), "{e}");
    }

    #[test]
    fn hand_checked_five_frames() {
        // n = 2 positions, c = 2. Position 0 never changes; position 1 turns by 90° at frames
        // 1 and 3, by 45° at frame 2. merging_ratio 0.5 keeps 1 token of a pruned frame.
        let s = std::f32::consts::FRAC_1_SQRT_2;
        let frames: [[f32; 4]; 5] = [
            [1.0, 0.0, 1.0, 0.0],
            [1.0, 0.0, 0.0, 1.0],
            [1.0, 0.0, s, s],
            [1.0, 0.0, 0.0, 1.0],
            [9.0, 9.0, 9.0, 9.0],
        ];
        let data: Vec<f32> = frames.iter().flatten().copied().collect();
        // Frame 0 whole (0, 1); frame 1 keeps position 1 (cos 0 < 1) → 3; frame 2 against
        // frame 0 keeps position 1 (cos 0.707) → 5; frame 3 against frame 2 keeps position 1
        // → 7; frame 4 (odd t, in no pair) is dropped.
        assert_eq!(run(&data, 5, 2, 2, 0.5).unwrap(), vec![0, 1, 3, 5, 7]);
    }

    #[test]
    fn pruned_frames_come_least_similar_first() {
        // Frame 1's position 1 is less similar to frame 0 than position 0: it comes first.
        let mut data = vec![1.0f32; 5 * 2 * 2];
        data[4..8].copy_from_slice(&[1.0, 0.9, -1.0, 1.0]);
        let src = run(&data, 5, 2, 2, 0.0).unwrap();
        assert_eq!(&src[..4], &[0, 1, 3, 2]);
    }
}
