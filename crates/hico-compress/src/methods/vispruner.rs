//! `vispruner`: VisPruner, per frame: keep the most-attended tokens, then from the rest the
//! diverse ones, found by dropping near-duplicates round after round.
//!
//! Paper: Zhang et al., "Beyond Text-Visual Attention: Exploiting Visual Cues for Effective
//! Token Pruning in VLMs", ICCV 2025 (arXiv 2412.01818). Official code:
//! `Theia-4869/VisPruner`, `llava/model/llava_arch.py`,
//! `LlavaMetaForCausalLM.encode_images()` (the `[VisPruner]` blocks). A video's frames reach it
//! as its batch of images, so the rule runs per frame. Per frame:
//!
//! 1. `important = int(visual_token_num · important_ratio)`, `diverse = visual_token_num −
//!    important`;
//! 2. the tokens by descending attention (ties to the lower index): the first `important` are
//!    kept, the others are the *residual*, in that order;
//! 3. while `diverse > 0`: `R = |residual|`, `r = min(8, R − diverse)`, stop when `r ≤ 0`; the
//!    residual's even positions `a` and odd positions `b`; each `a` scores its highest cosine
//!    similarity to any `b`; the `a`s by descending score lose their first `r`; the residual
//!    becomes the kept `a`s (score order) then all `b`s. The official gather of the kept `a`s
//!    uses a batch index of width `R // 2 − r`, which torch broadcasts against the
//!    `⌈R/2⌉ − r` kept `a`s: reproduced by [`gathered`], including the odd-`R` case that loses
//!    one `a` too many, and an error where torch raises;
//! 4. the kept tokens (important and residual) go through a boolean mask: output in ascending
//!    position order, frame after frame.

use serde::{Deserialize, Serialize};

use crate::util::{argsort_desc, dot, normalize_rows};
use crate::{CompressError, Input, Needs, Plan, Result, Rule};

/// Parameters of `vispruner` (per frame).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VisPruner {
    /// Tokens kept per frame (important + diverse); 32, the README's LLaVA-NeXT setting (32
    /// per image of its batch). At or above the frame's `n` every token is kept.
    pub visual_token_num: usize,
    /// Share of `visual_token_num` taken by attention (`int()` of the product); 0.5, the
    /// argparse default of the eval scripts and the README's examples.
    pub important_ratio: f64,
}

impl Default for VisPruner {
    fn default() -> Self {
        Self {
            visual_token_num: 32,
            important_ratio: 0.5,
        }
    }
}

/// How many of the `a`s the official gather returns, for `big_r` residual tokens and `r` to
/// drop: the index tensors `arange(B)[:, None].expand(-1, R // 2 − r)` and the kept `a`s
/// (`max(⌈R/2⌉ − r, 0)` of them) broadcast together, or `None` where torch raises (an expand
/// width below −1, or widths that do not broadcast).
pub fn gathered(big_r: usize, r: usize) -> Option<usize> {
    let kept = big_r.div_ceil(2).saturating_sub(r);
    let width = match (big_r / 2) as i64 - r as i64 {
        -1 => 1, // expand(-1, -1) keeps the size-1 dimension
        w if w < -1 => return None,
        w => w as usize,
    };
    if width == kept || width == 1 {
        Some(kept)
    } else if kept == 1 {
        Some(width) // 0: the broadcast (0, 1) → 0 loses the one kept `a`
    } else {
        None
    }
}

/// The budgets and pairing rounds of one frame of `n` tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Important tokens kept (`int(visual_token_num · important_ratio)`, at most `n`).
    pub important: usize,
    /// Whether the diverse step runs (`diverse_token_num > 0`).
    pub diverse: bool,
    /// Each round: `(r, kept)`, the `a`s dropped and the `a`s the gather keeps.
    pub rounds: Vec<(usize, usize)>,
}

impl VisPruner {
    /// The official budgets and rounds for frames of `n` tokens; errors name the parameter the
    /// official code cannot run with.
    pub fn schedule(&self, n: usize) -> Result<Schedule> {
        let err = |param, msg: String| CompressError::Param {
            method: Self::KIND,
            param,
            msg,
        };
        if self.visual_token_num == 0 {
            return Err(err(
                "visual_token_num",
                "0 keeps no token; use at least 1".into(),
            ));
        }
        let ratio = self.important_ratio;
        if !ratio.is_finite() || !(0.0..=1.0).contains(&ratio) {
            return Err(err(
                "important_ratio",
                format!("{ratio}: a share of `visual_token_num`, in [0, 1]"),
            ));
        }
        // Python's int() of a non-negative product: truncation; at most visual_token_num.
        let important_token_num = (self.visual_token_num as f64 * ratio) as usize;
        let diverse_token_num = self.visual_token_num - important_token_num;
        let important = important_token_num.min(n);
        let mut big_r = n - important;
        let mut rounds = Vec::new();
        // The official `while diverse_token_num > 0:` (its condition never changes).
        if diverse_token_num > 0 {
            loop {
                let r = 8.min(big_r as i64 - diverse_token_num as i64);
                if r <= 0 {
                    break;
                }
                let r = r as usize;
                let kept = gathered(big_r, r).ok_or_else(|| {
                    err(
                        "visual_token_num",
                        format!(
                            "{} with important_ratio {ratio} on {n} tokens a frame: the official \
                             pairing loop fails at {big_r} residual tokens, {r} to drop (torch \
                             cannot broadcast its gather indices); choose another budget",
                            self.visual_token_num
                        ),
                    )
                })?;
                rounds.push((r, kept));
                big_r = kept + big_r / 2;
            }
        }
        Ok(Schedule {
            important,
            diverse: diverse_token_num > 0,
            rounds,
        })
    }
}

impl Rule for VisPruner {
    const KIND: &'static str = "vispruner";

    fn needs(&self) -> Needs {
        Needs {
            attention: true,
            ..Needs::default()
        }
    }

    fn plan(&self, x: &Input) -> Result<Plan> {
        let sched = self.schedule(x.n)?;
        let attention = x.require_attention(Self::KIND)?;
        let (n, c) = (x.n, x.c);
        let mut keep = Vec::new();
        for f in 0..x.t {
            let base = f * n;
            let score: Vec<f64> = attention[base..base + n]
                .iter()
                .map(|&a| a as f64)
                .collect();
            let order = argsort_desc(&score);
            let (important, rest) = order.split_at(sched.important);
            let mut residual = rest.to_vec();
            let rows: Vec<f64> = x.frame(f).iter().map(|&v| v as f64).collect();
            let unit = normalize_rows(&rows, c);
            let row = |i: usize| &unit[i * c..(i + 1) * c];
            for &(r, kept) in &sched.rounds {
                let a: Vec<usize> = residual.iter().copied().step_by(2).collect();
                let b: Vec<usize> = residual.iter().copied().skip(1).step_by(2).collect();
                let scores: Vec<f64> = a
                    .iter()
                    .map(|&i| {
                        b.iter()
                            .map(|&j| dot(row(i), row(j)))
                            .fold(f64::NEG_INFINITY, f64::max)
                    })
                    .collect();
                let distinct = argsort_desc(&scores);
                residual = distinct[r.min(a.len())..]
                    .iter()
                    .take(kept)
                    .map(|&k| a[k])
                    .chain(b)
                    .collect();
            }
            let mut mask = vec![false; n];
            important.iter().for_each(|&i| mask[i] = true);
            if sched.diverse {
                residual.iter().for_each(|&i| mask[i] = true);
            }
            keep.extend((0..n).filter(|&i| mask[i]).map(|i| base + i));
        }
        Ok(Plan::keep(keep))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vp(visual_token_num: usize, important_ratio: f64) -> VisPruner {
        VisPruner {
            visual_token_num,
            important_ratio,
        }
    }

    #[test]
    fn the_official_gather() {
        assert_eq!(gathered(180, 8), Some(82)); // even R: ⌈R/2⌉ − r
        assert_eq!(gathered(14, 8), Some(0)); // expand(-1, -1): no `a` kept
        assert_eq!(gathered(17, 8), Some(0)); // odd R: (0, 1) → 0, one `a` too many lost
        assert_eq!(gathered(5, 1), Some(2)); // odd R: (1, 2) → 2
        assert_eq!(gathered(12, 8), None); // expand(-1, -2)
        assert_eq!(gathered(41, 8), None); // (12, 13)
    }

    #[test]
    fn budgets_the_official_code_cannot_run_are_errors() {
        let e = vp(0, 0.5).schedule(64).unwrap_err();
        assert!(e.to_string().contains("`visual_token_num`"), "{e}");
        for ratio in [-0.1, 1.5, f64::NAN] {
            let e = vp(8, ratio).schedule(64).unwrap_err();
            assert!(e.to_string().contains("`important_ratio`"), "{e}");
        }
        // 16 tokens of 49: R = 41 odd, r = 8 → index widths 12 and 13.
        let e = vp(16, 0.5).schedule(49).unwrap_err();
        assert!(e.to_string().contains("`visual_token_num`"), "{e}");
        assert!(e.to_string().contains("41 residual"), "{e}");
        // The defaults on 196 and 64 tokens run; at or above n everything is kept.
        assert!(VisPruner::default().schedule(196).is_ok());
        assert!(VisPruner::default().schedule(64).is_ok());
        let s = VisPruner::default().schedule(16).unwrap();
        assert_eq!((s.important, s.rounds.len()), (16, 0));
    }

    #[test]
    fn hand_checked_frame() {
        // One frame of 8 tokens (c = 2), 4 kept: int(4 · 0.5) = 2 important (tokens 5 and 2,
        // the most attended), 2 diverse. Residual by attention: [0, 7, 1, 6, 3, 4]; R = 6,
        // r = min(8, 4) = 4 > 3 a's → no `a` kept (expand(-1, -1)): residual = b = [7, 6, 4];
        // R = 3, r = 1: a = [7, 4], b = [6]; token 7 is nearer 6 than 4 is, so 7 goes, and 4
        // should stay, but the gather's widths 0 and 1 broadcast to 0: residual = [6].
        // Output in position order: 2, 5, 6 (3 tokens, not 4).
        let tokens = [
            1.0, 0.0, // 0
            0.9, 0.1, // 1
            5.0, 5.0, // 2: important
            0.0, 1.0, // 3
            1.0, -1.0, // 4
            3.0, 1.0, // 5: important
            0.1, 1.0, // 6
            0.2, 1.0, // 7
        ];
        let attention = [0.30, 0.20, 0.50, 0.10, 0.05, 0.60, 0.15, 0.25];
        let mut x = Input::new(&tokens, 1, 8, 2).unwrap();
        x.attention = Some(&attention);
        let m = crate::Method::Vispruner(vp(4, 0.5));
        let plan = m.plan(&x).unwrap();
        assert_eq!(plan.source(), vec![2, 5, 6]);
    }

    #[test]
    fn needs_attention() {
        let tokens = [0.0f32; 64 * 2];
        let x = Input::new(&tokens, 1, 64, 2).unwrap();
        let e = crate::Method::Vispruner(VisPruner::default())
            .plan(&x)
            .unwrap_err();
        assert!(e.to_string().contains("attention"), "{e}");
    }
}
