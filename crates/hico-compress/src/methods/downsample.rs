//! `downsample`: plain spatial average pooling of each frame to a `√k × √k` grid.
//!
//! The cells are those of PyTorch's `adaptive_avg_pool2d` (cell `i` of `o` along a side of
//! `s` spans `floor(i·s/o) .. ceil((i+1)·s/o)`, so cells overlap when `o` does not divide
//! `s`), each output the plain mean of its cell. Output order: frame, then row-major cell.
//! A baseline that recent benchmarks of token reduction found strong.

use serde::{Deserialize, Serialize};

use crate::{CompressError, Input, Needs, Plan, Result, Rule};

/// Parameters of `downsample`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Downsample {
    /// Tokens kept per frame: a square `o²` with `o ≤` the frame grid's side.
    pub tokens_per_frame: usize,
}

impl Default for Downsample {
    fn default() -> Self {
        Self {
            tokens_per_frame: 16,
        }
    }
}

/// Cells of adaptive average pooling along one side: `(start, end)` per output.
pub fn adaptive_cells(s: usize, o: usize) -> Vec<(usize, usize)> {
    (0..o)
        .map(|i| ((i * s) / o, ((i + 1) * s).div_ceil(o)))
        .collect()
}

impl Rule for Downsample {
    const KIND: &'static str = "downsample";

    fn needs(&self) -> Needs {
        Needs {
            grid: true,
            ..Needs::default()
        }
    }

    fn plan(&self, x: &Input) -> Result<Plan> {
        let s = x.square_side("downsample")?;
        let o = (self.tokens_per_frame as f64).sqrt().round() as usize;
        if o == 0 || o * o != self.tokens_per_frame || o > s {
            return Err(CompressError::Param {
                method: "downsample",
                param: "tokens_per_frame",
                msg: format!(
                    "{} is not a square o² with 1 ≤ o ≤ {s} (the frame grid's side)",
                    self.tokens_per_frame
                ),
            });
        }
        let cells = adaptive_cells(s, o);
        let mut groups = Vec::with_capacity(x.t * o * o);
        for f in 0..x.t {
            for &(r0, r1) in &cells {
                for &(c0, c1) in &cells {
                    let g = (r0..r1)
                        .flat_map(|r| (c0..c1).map(move |c| f * x.n + r * s + c))
                        .collect();
                    groups.push(g);
                }
            }
        }
        Ok(Plan::means(groups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_overlap_when_the_side_does_not_divide() {
        assert_eq!(adaptive_cells(4, 2), vec![(0, 2), (2, 4)]);
        assert_eq!(adaptive_cells(7, 3), vec![(0, 3), (2, 5), (4, 7)]);
    }
}
