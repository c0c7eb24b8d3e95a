//! `random`: a seeded uniform choice of tokens over the whole video, kept in time order.
//!
//! A baseline that recent benchmarks of token reduction found hard to beat at moderate
//! budgets (docs/compression.md). `K = int(t·n·retention_ratio)` tokens are drawn without
//! replacement by a partial Fisher-Yates shuffle driven by SplitMix64 seeded with `seed`
//! (reproduced exactly by `scripts/compress_ref/random.py`), then sorted by flat index.

use serde::{Deserialize, Serialize};

use crate::util::SplitMix64;
use crate::{CompressError, Input, Plan, Result, Rule};

/// Parameters of `random`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Random {
    /// Fraction of all visual tokens kept.
    pub retention_ratio: f64,
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for Random {
    fn default() -> Self {
        Self {
            retention_ratio: 0.25,
            seed: 0,
        }
    }
}

impl Random {
    /// Tokens kept of `total`.
    pub fn budget(&self, total: usize) -> Result<usize> {
        let k = (total as f64 * self.retention_ratio) as usize;
        if !(self.retention_ratio > 0.0 && self.retention_ratio <= 1.0) || k == 0 {
            return Err(CompressError::Param {
                method: "random",
                param: "retention_ratio",
                msg: format!(
                    "{} keeps int({total}·ratio) = {k} tokens; use a ratio in (0, 1] that keeps one",
                    self.retention_ratio
                ),
            });
        }
        Ok(k)
    }
}

impl Rule for Random {
    const KIND: &'static str = "random";

    fn plan(&self, x: &Input) -> Result<Plan> {
        let total = x.len();
        let k = self.budget(total)?;
        let mut idx: Vec<usize> = (0..total).collect();
        let mut rng = SplitMix64::new(self.seed);
        for i in 0..k {
            let j = i + rng.below(total - i);
            idx.swap(i, j);
        }
        let mut kept = idx[..k].to_vec();
        kept.sort_unstable();
        Ok(Plan::keep(kept))
    }
}
