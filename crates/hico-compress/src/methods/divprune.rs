//! `divprune`: DivPrune, "Diversity-based Visual Token Pruning for Large Multimodal Models"
//! (Alvar et al., CVPR 2025, arXiv 2503.02175).
//!
//! Official code: `vbdi/divprune`, `LLaVA/llava/model/llava_arch.py`,
//! `LlavaMetaForCausalLM.DivPrune()` (with `pairwise_cosine_similarity()`), called from
//! `prepare_inputs_labels_for_multimodal()` on the whole visual-token span of the prompt.
//!
//! The rule is a greedy solver of the Max-Min Diversity Problem over all `M = t·n` tokens of
//! the video, with the cosine distance `d(i, j) = 1 − cos(x_i, x_j)`:
//! 1. `K = int(round(subset_ratio · M))` (Python's half-even `round`).
//! 2. First pick: the token whose *second smallest* distance to all tokens (the smallest is
//!    its distance to itself) is largest, i.e. the most isolated token.
//! 3. Each next pick: the token whose smallest distance to the tokens picked so far is
//!    largest. Picked tokens are not masked out: their score is their distance to
//!    themselves (≈ 0), so, as in the official loop, a token can only be picked twice once
//!    every other token has a smaller score.
//! 4. Ties go to the lower index (`torch.argmax`). The kept indices are sorted ascending
//!    (`keep_indexs.sort()`), so the output is in time order.

use serde::{Deserialize, Serialize};

use crate::util::{dot, normalize_rows, py_round, rows_f64};
use crate::{CompressError, Input, Plan, Result, Rule};

/// Parameters of `divprune`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Divprune {
    /// Fraction of all visual tokens kept (`SUBSET_RATIO` of the official scripts, the
    /// `threshold_ratio` argument of `DivPrune()`).
    pub subset_ratio: f64,
}

impl Default for Divprune {
    /// `SUBSET_RATIO=0.098` of `run_Divprune.sh` (the official repository has no video
    /// script; its one setting is this ratio).
    fn default() -> Self {
        Self {
            subset_ratio: 0.098,
        }
    }
}

impl Divprune {
    /// Tokens kept of `total`: `int(round(subset_ratio · total))`.
    pub fn budget(&self, total: usize) -> Result<usize> {
        let k = py_round(self.subset_ratio * total as f64);
        if !(self.subset_ratio > 0.0 && self.subset_ratio <= 1.0) || k < 1 {
            return Err(CompressError::Param {
                method: "divprune",
                param: "subset_ratio",
                msg: format!(
                    "{} keeps int(round({total}·ratio)) = {k} tokens; use a ratio in (0, 1] \
                     that keeps one",
                    self.subset_ratio
                ),
            });
        }
        Ok(k as usize)
    }
}

/// The greedy max-min selection of `DivPrune()` over `m` unit rows `xn` (`c` wide): `k`
/// flat indices in selection order.
pub fn max_min_select(xn: &[f64], c: usize, k: usize) -> Vec<usize> {
    let m = xn.len() / c;
    let row = |i: usize| &xn[i * c..(i + 1) * c];
    // First pick: per column j, the two smallest of d(·, j) (the multiset order statistic,
    // as `topk(…, 2, largest=False).values[1]`); the distance is symmetric.
    let mut lo = vec![(f64::INFINITY, f64::INFINITY); m];
    let mut push = |j: usize, v: f64| {
        let (a, b) = &mut lo[j];
        if v < *a {
            *b = *a;
            *a = v;
        } else if v < *b {
            *b = v;
        }
    };
    for i in 0..m {
        for j in i..m {
            let d = 1.0 - dot(row(i), row(j));
            push(j, d);
            if j != i {
                push(i, d);
            }
        }
    }
    let argmax = |s: &[f64]| {
        let mut best = 0;
        for (j, &v) in s.iter().enumerate() {
            if v > s[best] {
                best = j;
            }
        }
        best
    };
    let scores: Vec<f64> = lo.iter().map(|&(_, b)| b).collect();
    let mut picked = Vec::with_capacity(k);
    picked.push(argmax(&scores));
    // Next picks: the running minimum of the distance to the picked rows.
    let mut min_d = vec![f64::INFINITY; m];
    while picked.len() < k {
        let p = row(*picked.last().unwrap());
        for (j, v) in min_d.iter_mut().enumerate() {
            *v = v.min(1.0 - dot(p, row(j)));
        }
        picked.push(argmax(&min_d));
    }
    picked
}

impl Rule for Divprune {
    const KIND: &'static str = "divprune";

    fn plan(&self, x: &Input) -> Result<Plan> {
        let k = self.budget(x.len())?;
        let xn = normalize_rows(&rows_f64(x), x.c);
        let mut kept = max_min_select(&xn, x.c, k);
        kept.sort_unstable();
        Ok(Plan::keep(kept))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_that_keeps_nothing_names_the_parameter() {
        let e = Divprune { subset_ratio: 0.1 }.budget(4).unwrap_err();
        assert!(e.to_string().contains("subset_ratio"), "{e}");
        assert!(Divprune { subset_ratio: 1.5 }.budget(4).is_err());
        // int(round(0.125 · 20)) = round(2.5) = 2 (half to even).
        assert_eq!(
            Divprune {
                subset_ratio: 0.125
            }
            .budget(20)
            .unwrap(),
            2
        );
    }

    #[test]
    fn picks_the_isolated_token_then_the_farthest() {
        // Four unit directions: 0 and 1 nearly equal, 2 at 90° from both, 3 opposite 0.
        let data = [
            1.0, 0.0, //
            1.0, 0.01, //
            0.0, 1.0, //
            -1.0, 0.0,
        ];
        let x = Input::new(&data, 1, 4, 2).unwrap();
        let xn = normalize_rows(&rows_f64(&x), 2);
        // Nearest-neighbour distances: 5e-5, 5e-5, 0.99 (2 to 1), 1 (3 to 2): token 3 first.
        // Distances to 3: 2, 1.99995, 1, 0: token 0. Then min over {3, 0}: 0, 5e-5, 1, 0:
        // token 2.
        assert_eq!(max_min_select(&xn, 2, 3), vec![3, 0, 2]);
        let plan = Divprune { subset_ratio: 0.75 }.plan(&x).unwrap();
        assert_eq!(plan.source(), vec![0, 2, 3]);
    }
}
