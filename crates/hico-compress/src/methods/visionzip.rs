//! `visionzip`: VisionZip, per frame: keep the most-attended tokens, merge the rest into a few
//! contextual tokens.
//!
//! Paper: Yang et al., "VisionZip: Longer is Better but Not Necessary in Vision Language
//! Models", CVPR 2025 (arXiv 2412.04467). Official code: `dvlab-research/VisionZip`,
//! `visionzip/clip_encoder.py`, `CLIPVisionTower_VisionZip.forward()` (a clip's frames are its
//! batch, so the rule runs per frame); the CLS-free scoring follows the SigLIP ports
//! (`yu-lin-li/DyToK`, `static_compression()`). Per frame:
//!
//! 1. *dominant*: the `dominant` tokens with the highest attention received (ties to the lower
//!    index), output in ascending position order (the official code gathers them by a mask);
//! 2. the `R = n − dominant` others, in position order, compared by cosine similarity of the
//!    tokens themselves (official: the layer's mean key);
//! 3. `step = max(1, R // contextual)`; the targets are positions `0, step, 2·step, …` of the
//!    others, the first `contextual` of them;
//! 4. every other token joins its most similar target (the first on a tie);
//! 5. a contextual token is `target + (Σ assigned) / max(count, 1)` — the official sum of the
//!    target and the mean of its assigned tokens, not a mean over both.
//!
//! Output: the frame's dominant tokens, then its contextual tokens (target order), frame after
//! frame.

use serde::{Deserialize, Serialize};

use crate::util::{dot, normalize_rows, topk_desc};
use crate::{CompressError, Input, Needs, Plan, Result, Rule};

/// Parameters of `visionzip` (per frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisionZip {
    /// Dominant tokens kept per frame (the most attended); the README's 54 (of 64 per image).
    pub dominant: usize,
    /// Contextual (merged) tokens per frame; the README's 10.
    pub contextual: usize,
}

impl Default for VisionZip {
    fn default() -> Self {
        Self {
            dominant: 54,
            contextual: 10,
        }
    }
}

impl VisionZip {
    /// Check the budgets against `n` tokens per frame: the official code needs
    /// `contextual ≥ 1` (it divides by it) and `dominant + contextual ≤ n` (else `topk` fails
    /// or fewer targets than `contextual` exist).
    pub fn check(&self, n: usize) -> Result<()> {
        if self.contextual == 0 {
            return Err(CompressError::Param {
                method: Self::KIND,
                param: "contextual",
                msg: "0: the official code divides the remaining tokens by it; use at least 1"
                    .into(),
            });
        }
        if self.dominant > n || self.contextual > n - self.dominant {
            let param = if self.dominant > n {
                "dominant"
            } else {
                "contextual"
            };
            return Err(CompressError::Param {
                method: Self::KIND,
                param,
                msg: format!(
                    "dominant + contextual = {} + {} exceeds the {n} tokens of a frame",
                    self.dominant, self.contextual
                ),
            });
        }
        Ok(())
    }
}

impl Rule for VisionZip {
    const KIND: &'static str = "visionzip";

    fn needs(&self) -> Needs {
        Needs {
            attention: true,
            ..Needs::default()
        }
    }

    fn plan(&self, x: &Input) -> Result<Plan> {
        self.check(x.n)?;
        let attention = x.require_attention(Self::KIND)?;
        let (n, c) = (x.n, x.c);
        let mut groups = Vec::with_capacity(x.t * (self.dominant + self.contextual));
        for f in 0..x.t {
            let base = f * n;
            let score: Vec<f64> = attention[base..base + n]
                .iter()
                .map(|&a| a as f64)
                .collect();
            let mut is_dominant = vec![false; n];
            for i in topk_desc(&score, self.dominant) {
                is_dominant[i] = true;
            }
            // Dominant tokens in position order (the official mask gather).
            groups.extend(
                (0..n)
                    .filter(|&i| is_dominant[i])
                    .map(|i| vec![((base + i) as u32, 1.0f32)]),
            );
            // The others, in position order, normalised.
            let filtered: Vec<usize> = (0..n).filter(|&i| !is_dominant[i]).collect();
            let rows: Vec<f64> = filtered
                .iter()
                .flat_map(|&i| x.token(base + i).iter().map(|&v| v as f64))
                .collect();
            let unit = normalize_rows(&rows, c);
            let r = filtered.len();
            let step = (r / self.contextual).max(1);
            let targets: Vec<usize> = (0..r).step_by(step).take(self.contextual).collect();
            let mut is_target = vec![false; r];
            targets.iter().for_each(|&j| is_target[j] = true);
            let mut members: Vec<Vec<usize>> = vec![Vec::new(); targets.len()];
            for j in (0..r).filter(|&j| !is_target[j]) {
                let row = &unit[j * c..(j + 1) * c];
                let mut best = 0;
                let mut best_sim = f64::NEG_INFINITY;
                for (k, &tj) in targets.iter().enumerate() {
                    let sim = dot(row, &unit[tj * c..(tj + 1) * c]);
                    if sim > best_sim {
                        best_sim = sim;
                        best = k;
                    }
                }
                members[best].push(j);
            }
            for (&tj, m) in targets.iter().zip(&members) {
                let w = 1.0 / m.len().max(1) as f32;
                let mut g = vec![((base + filtered[tj]) as u32, 1.0f32)];
                g.extend(m.iter().map(|&j| ((base + filtered[j]) as u32, w)));
                g.sort_unstable_by_key(|&(i, _)| i);
                groups.push(g);
            }
        }
        Ok(Plan { groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_the_official_code_cannot_run_are_errors() {
        let e = VisionZip {
            dominant: 2,
            contextual: 0,
        }
        .check(16)
        .unwrap_err();
        assert!(e.to_string().contains("contextual"), "{e}");
        let e = VisionZip::default().check(60).unwrap_err();
        assert!(e.to_string().contains("`contextual`"), "{e}");
        let e = VisionZip {
            dominant: 17,
            contextual: 1,
        }
        .check(16)
        .unwrap_err();
        assert!(e.to_string().contains("`dominant`"), "{e}");
        assert!(VisionZip::default().check(64).is_ok());
    }

    #[test]
    fn hand_checked_frame() {
        // One frame of 6 tokens (c = 2); attention picks tokens 4 and 1 (output in position
        // order). Others: [0, 2, 3, 5], contextual = 2 → step 2, targets 0 and 3 (the others'
        // positions 0 and 2); token 2 is nearer target 0, token 5 nearer target 3.
        let tokens = [
            1.0, 0.0, // 0: target
            9.0, 9.0, // 1: dominant
            2.0, 0.1, // 2 → 0
            0.0, 1.0, // 3: target
            7.0, 7.0, // 4: dominant
            0.1, 3.0, // 5 → 3
        ];
        let attention = [0.1, 0.3, 0.0, 0.1, 0.5, 0.0];
        let mut x = Input::new(&tokens, 1, 6, 2).unwrap();
        x.attention = Some(&attention);
        let m = VisionZip {
            dominant: 2,
            contextual: 2,
        };
        let plan = crate::Method::Visionzip(m).plan(&x).unwrap();
        assert_eq!(plan.source(), vec![1, 4, 0, 3]);
        // target + mean of its single assigned token.
        let out = plan.apply(&x);
        assert_eq!(out, vec![9.0, 9.0, 7.0, 7.0, 3.0, 0.1, 0.1, 4.0]);
    }

    #[test]
    fn needs_attention() {
        let tokens = [0.0f32; 64 * 2];
        let x = Input::new(&tokens, 1, 64, 2).unwrap();
        let e = crate::Method::Visionzip(VisionZip::default())
            .plan(&x)
            .unwrap_err();
        assert!(e.to_string().contains("attention"), "{e}");
    }
}
