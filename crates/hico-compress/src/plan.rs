//! [`Plan`]: what a method decided, as a linear map from input tokens to output tokens.
//!
//! Every method of this crate keeps, drops or averages tokens, so its output token `j` is
//! `Σ_i w_ji · x_i` over a few input tokens `i` (one with weight 1 for a kept token). A plan
//! lists those `(i, w)` per output token in the method's output order. The pipeline applies
//! it to burn tensors (a gather or a sparse weighted sum, differentiable), `hico compress`
//! and the parity tests to slices ([`Plan::apply`]).

use serde::{Deserialize, Serialize};

use crate::Input;

/// The output tokens of a method, each a weighted sum of input tokens (flat indices).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// `groups[j]`: `(flat input index, weight)` of output token `j`, indices ascending.
    pub groups: Vec<Vec<(u32, f32)>>,
}

impl Plan {
    /// A plan that keeps the given flat indices, in the given order.
    pub fn keep(indices: impl IntoIterator<Item = usize>) -> Self {
        Self {
            groups: indices.into_iter().map(|i| vec![(i as u32, 1.0)]).collect(),
        }
    }

    /// A plan that averages each group of flat indices with equal weights, in the given
    /// order (members are sorted within a group).
    pub fn means(groups: impl IntoIterator<Item = Vec<usize>>) -> Self {
        Self {
            groups: groups
                .into_iter()
                .map(|mut g| {
                    g.sort_unstable();
                    let w = 1.0 / g.len() as f32;
                    g.into_iter().map(|i| (i as u32, w)).collect()
                })
                .collect(),
        }
    }

    /// Output tokens.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether the plan keeps nothing.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// For each output token, the smallest flat input index it stands for with nonzero weight.
    pub fn source(&self) -> Vec<i64> {
        self.groups
            .iter()
            .map(|g| {
                g.iter()
                    .filter(|&&(_, w)| w != 0.0)
                    .map(|&(i, _)| i as i64)
                    .min()
                    .unwrap_or(-1)
            })
            .collect()
    }

    /// The output tokens `[len, c]`, sums taken in f64.
    pub fn apply(&self, x: &Input) -> Vec<f32> {
        let c = x.c;
        let mut out = Vec::with_capacity(self.len() * c);
        let mut acc = vec![0f64; c];
        for g in &self.groups {
            acc.iter_mut().for_each(|a| *a = 0.0);
            for &(i, w) in g {
                for (a, &v) in acc.iter_mut().zip(x.token(i as usize)) {
                    *a += w as f64 * v as f64;
                }
            }
            out.extend(acc.iter().map(|&a| a as f32));
        }
        out
    }

    /// Check that every index is within `0..n_inputs` and every group is non-empty.
    pub fn check(&self, n_inputs: usize) -> Result<(), String> {
        for (j, g) in self.groups.iter().enumerate() {
            if g.is_empty() {
                return Err(format!("output token {j} stands for no input token"));
            }
            if let Some(&(i, _)) = g.iter().find(|&&(i, _)| i as usize >= n_inputs) {
                return Err(format!(
                    "output token {j} reads input {i}, beyond the {n_inputs} inputs"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_and_means_apply() {
        let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let x = Input::new(&data, 1, 3, 2).unwrap();
        let p = Plan::keep([2, 0]);
        assert_eq!(p.apply(&x), vec![5.0, 6.0, 1.0, 2.0]);
        assert_eq!(p.source(), vec![2, 0]);
        let m = Plan::means([vec![2, 1]]);
        assert_eq!(m.apply(&x), vec![4.0, 5.0]);
        assert_eq!(m.source(), vec![1]);
        assert!(m.check(3).is_ok());
        assert!(Plan::keep([3]).check(3).is_err());
    }
}
