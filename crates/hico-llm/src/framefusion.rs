//! FrameFusion (Fu et al., "FrameFusion: Combining Similarity and Importance for Video Token
//! Reduction on Large Vision Language Models", ICCV 2025; `thu-nics/FrameFusion`,
//! `framefusion/main.py`, class `FrameFusion`), written from a reading of that code.
//!
//! Inside the LLM's prefill, one state machine is called before the attention of layer 0
//! and after the attention (before the MLP) of every layer:
//! 1. **Merge** (while not finished): the cosine similarity of each visual token's hidden
//!    state with its same-position predecessor (the latest surviving token of the same
//!    position in an earlier frame); tokens at or above `similarity_lower_bound` merge into
//!    that predecessor, a chain into its earliest token, whose state becomes the plain mean
//!    of the chain. The merged fraction is appended to the sparsity list; when it falls
//!    below `ratio_lower_bound`, merging finishes. When it reaches the sparsity the budget
//!    still needs ([`required_sparsity`]), only that many (the most similar) merge and
//!    everything finishes (no pruning).
//! 2. **Prune** (once, at the first layer after merging finished): the last row's attention
//!    at that layer, mean over heads, ranks the visual tokens; the top
//!    `round(n · (1 − required_sparsity))` stay.
//!
//! This file holds the rule on host numbers ([`FusionState`]) and the device side
//! (similarity, merge sums); [`crate::prefill`] calls it layer by layer.

use burn::tensor::Tensor;
use hico_backend::HicoBackend;
use hico_core::config::FrameFusionDrop;

use crate::prefill::{RowsOf, index};

/// The similarity the official code gives a token with no same-position predecessor
/// (`IGNORE_TOKEN`): below any bound, so it never merges by similarity.
pub const NO_PREDECESSOR: f32 = -2.0;

/// The sparsity the next step needs so that the mean over `n_layers` layers of the visual
/// fraction left meets `cost`, given the sparsities of the steps so far (official
/// `_compute_pruning_ratio`): each step keeps `1 − s` of the tokens it saw, and every step
/// so far counts one layer at the fraction it left. Where the official raises (the budget
/// already spent: "The cost is too small"; no layers left: a division by zero) hico
/// returns 1.0, everything left must go.
pub fn required_sparsity(sparsity: &[f64], cost: f64, n_layers: usize) -> f64 {
    let (mut s, mut spent) = (1.0f64, 0.0f64);
    for &x in sparsity {
        s *= 1.0 - x;
        spent += s;
    }
    let remain = n_layers as f64 * cost - spent;
    let left = n_layers.saturating_sub(sparsity.len());
    if remain < 0.0 || left == 0 {
        return 1.0;
    }
    let r = remain / (left as f64 * s);
    if r > 1.0 { 0.0 } else { 1.0 - r }
}

/// For each token of the current visual block (in sequence order) with same-position id
/// `patch[j]`, the block index of the latest earlier token with the same id.
pub fn predecessors(patch: &[usize]) -> Vec<Option<usize>> {
    let mut last = std::collections::HashMap::new();
    patch
        .iter()
        .enumerate()
        .map(|(j, &p)| last.insert(p, j))
        .collect()
}

/// The survivor each merged token joins: its predecessor chain followed back to the first
/// token that does not merge (the official "run start" in same-position order).
///
/// # Panics
/// When a merged token has no unmerged ancestor (a token without predecessor never merges).
pub fn survivors(prev: &[Option<usize>], merged: &[bool]) -> Vec<(usize, usize)> {
    (0..prev.len())
        .filter(|&j| merged[j])
        .map(|j| {
            let mut s = prev[j].expect("a merged token has a predecessor");
            while merged[s] {
                s = prev[s].expect("a merged token has a predecessor");
            }
            (j, s)
        })
        .collect()
}

/// Where FrameFusion stands in one prefill (the official `finish_merging`, `finish_pruning`
/// and `sparsity_list`).
#[derive(Debug, Clone)]
pub struct FusionState {
    /// Parameters.
    pub cfg: FrameFusionDrop,
    /// Decoder layers of the model (the official hard-codes 28, Qwen2-7B's).
    pub n_layers: usize,
    /// Merged fraction of each merge step that stayed under the budget.
    pub sparsity: Vec<f64>,
    /// Merging finished.
    pub merged: bool,
    /// Pruning done (or not needed).
    pub pruned: bool,
}

impl FusionState {
    /// The state before layer 0.
    pub fn new(cfg: FrameFusionDrop, n_layers: usize) -> Self {
        Self {
            cfg,
            n_layers,
            sparsity: Vec::new(),
            merged: false,
            pruned: false,
        }
    }

    /// Whether the coming layer's attention ranks tokens for the pruning step.
    pub fn wants_importance(&self) -> bool {
        self.merged && !self.pruned
    }

    /// One merge step: given each current visual token's similarity to its predecessor
    /// ([`NO_PREDECESSOR`] when none), which tokens merge (a mask over the block).
    pub fn merge_step(&mut self, sim: &[f32]) -> Vec<bool> {
        let n = sim.len();
        if n == 0 {
            (self.merged, self.pruned) = (true, true);
            return Vec::new();
        }
        let upper = required_sparsity(&self.sparsity, self.cfg.cost, self.n_layers);
        let bound = self.cfg.similarity_lower_bound;
        let mut mask: Vec<bool> = sim.iter().map(|&s| s as f64 >= bound).collect();
        let ratio = mask.iter().filter(|&&m| m).count() as f64 / n as f64;
        if ratio < upper {
            self.sparsity.push(ratio);
            if ratio < self.cfg.ratio_lower_bound {
                self.merged = true;
            }
        } else {
            // The budget is met at this step: only the `int(upper · n)` most similar merge.
            // hico ranks only tokens that have a predecessor (the official top-k could pick
            // a first-of-position token and merge it across positions).
            let k = (upper * n as f64) as usize;
            let mut order: Vec<usize> = (0..n).filter(|&j| sim[j] > NO_PREDECESSOR).collect();
            order.sort_by(|&a, &b| sim[b].total_cmp(&sim[a]).then(a.cmp(&b)));
            mask = vec![false; n];
            for &j in order.iter().take(k) {
                mask[j] = true;
            }
            (self.merged, self.pruned) = (true, true);
        }
        mask
    }

    /// The pruning step: given each current visual token's attention from the last row,
    /// the block indices kept, ascending.
    pub fn prune_step(&mut self, importance: &[f32]) -> Vec<usize> {
        let n = importance.len();
        let ratio = required_sparsity(&self.sparsity, self.cfg.cost, self.n_layers);
        // Python's `round` (ties to even) of a float64.
        let keep = ((n as f64 * (1.0 - ratio)).round_ties_even() as usize).min(n);
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| importance[b].total_cmp(&importance[a]).then(a.cmp(&b)));
        let mut top = order[..keep].to_vec();
        top.sort_unstable();
        self.pruned = true;
        top
    }
}

/// Cosine similarity of each row of the visual block of `h` (rows `start..start + n`) with
/// the row of its predecessor; [`NO_PREDECESSOR`] where there is none. `dot / (|a| |b|)`
/// with no epsilon, as the official.
///
/// # Shapes
/// - `h`: `[1, L, hidden]`
pub fn similarity<B: HicoBackend>(
    h: &Tensor<B, 3>,
    start: usize,
    prev: &[Option<usize>],
) -> Vec<f32> {
    let pairs: Vec<(usize, usize)> = prev
        .iter()
        .enumerate()
        .filter_map(|(j, p)| p.map(|p| (start + j, start + p)))
        .collect();
    let mut out = vec![NO_PREDECESSOR; prev.len()];
    if pairs.is_empty() {
        return out;
    }
    let device = h.device();
    let rows = |f: fn(&(usize, usize)) -> usize| -> Vec<usize> { pairs.iter().map(f).collect() };
    let a = h.clone().select(1, index::<B>(&rows(|p| p.0), &device));
    let b = h.clone().select(1, index::<B>(&rows(|p| p.1), &device));
    let norm = |x: Tensor<B, 3>| x.powi_scalar(2).sum_dim(2).sqrt();
    let cos = (a.clone() * b.clone()).sum_dim(2) / (norm(a) * norm(b));
    let cos: Vec<f32> = cos
        .into_data()
        .convert::<f32>()
        .to_vec()
        .expect("f32 similarities");
    for ((j, _), c) in pairs.iter().zip(cos) {
        out[j - start] = c;
    }
    out
}

/// One merge step on the sequence: similarities, the state's choice, then the merged
/// tokens leave and each survivor becomes the mean of itself and the tokens it absorbed.
/// `after_layer` is the trace's 1-based layer (0: before layer 1).
pub fn merge<B: HicoBackend>(
    state: &mut FusionState,
    rows: &mut RowsOf<'_, B>,
    h: Tensor<B, 3>,
    per_frame: usize,
    after_layer: usize,
) -> Tensor<B, 3> {
    let patch: Vec<usize> = rows.vis.iter().map(|&v| v as usize % per_frame).collect();
    let prev = predecessors(&patch);
    let sim = similarity(&h, rows.visual_start, &prev);
    let mask = state.merge_step(&sim);
    if !mask.iter().any(|&m| m) {
        return h;
    }
    let pairs = survivors(&prev, &mask);
    let kept: Vec<usize> = (0..mask.len()).filter(|&j| !mask[j]).collect();
    rows.gather(h, &kept, &pairs, after_layer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(cost: f64, sim: f64, ratio: f64, n_layers: usize) -> FusionState {
        FusionState::new(
            FrameFusionDrop {
                cost,
                similarity_lower_bound: sim,
                ratio_lower_bound: ratio,
                ..Default::default()
            },
            n_layers,
        )
    }

    /// The budget arithmetic by hand, at the official 28 layers and cost 0.3.
    #[test]
    fn required_sparsity_by_hand() {
        // No step yet: 1 − 8.4 / 28 = 0.7.
        assert!((required_sparsity(&[], 0.3, 28) - 0.7).abs() < 1e-12);
        // One step at 0.5: s = 0.5, spent 0.5, remain 7.9 over 27 layers at 0.5 each.
        let want = 1.0 - 7.9 / (27.0 * 0.5);
        assert!((required_sparsity(&[0.5], 0.3, 28) - want).abs() < 1e-12);
        // A loose budget needs nothing; a spent one (or no layer left) needs everything.
        assert_eq!(required_sparsity(&[], 1.0, 28), 0.0);
        assert_eq!(required_sparsity(&[0.0, 0.0], 0.3, 4), 1.0);
        assert_eq!(required_sparsity(&[0.1; 4], 1.0, 4), 1.0);
    }

    /// Predecessors are per position, survivors the head of each merged chain.
    #[test]
    fn chains_merge_into_their_earliest_unmerged_token() {
        // 3 frames × 2 positions, frame-major: patch ids 0 1 0 1 0 1.
        let prev = predecessors(&[0, 1, 0, 1, 0, 1]);
        assert_eq!(prev, vec![None, None, Some(0), Some(1), Some(2), Some(3)]);
        // Tokens 2 and 4 (position 0, frames 1 and 2) merge: both into 0; token 5 into 3.
        let merged = [false, false, true, false, true, true];
        assert_eq!(survivors(&prev, &merged), vec![(2, 0), (4, 0), (5, 3)]);
        // After a merge, a later frame's predecessor is the surviving token.
        assert_eq!(
            predecessors(&[0, 1, 1, 0]),
            vec![None, None, Some(1), Some(0)]
        );
    }

    /// The three outcomes of a merge step.
    #[test]
    fn merge_step_branches() {
        let p = NO_PREDECESSOR;
        // 2 of 10 similar (0.2 < upper 0.7, ≥ 0.1): merge them, keep merging.
        let mut s = state(0.3, 0.6, 0.1, 28);
        let sim = [p, p, 0.9, 0.1, 0.6, 0.5, 0.2, 0.3, 0.59, 0.0];
        let m = s.merge_step(&sim);
        assert_eq!(
            m.iter()
                .enumerate()
                .filter(|x| *x.1)
                .map(|x| x.0)
                .collect::<Vec<_>>(),
            vec![2, 4]
        );
        assert_eq!(s.sparsity, vec![0.2]);
        assert!(!s.merged && !s.wants_importance());
        // 1 of 20 similar (< 0.1): merge it and finish; pruning comes next.
        let mut sim20 = vec![0.0f32; 20];
        sim20[0] = p;
        sim20[7] = 0.95;
        let mut s = state(0.3, 0.6, 0.1, 28);
        assert_eq!(s.merge_step(&sim20).iter().filter(|&&m| m).count(), 1);
        assert!(s.merged && !s.pruned && s.wants_importance());
        // 8 of 10 similar (≥ upper 0.7): the int(0.7 · 10) = 7 most similar, no pruning.
        let mut s = state(0.3, 0.6, 0.1, 28);
        let sim = [p, 0.99, 0.98, 0.97, 0.96, 0.95, 0.94, 0.93, 0.92, 0.1];
        let m = s.merge_step(&sim);
        assert_eq!(
            m,
            [
                false, true, true, true, true, true, true, true, false, false
            ]
        );
        assert!(s.merged && s.pruned && s.sparsity.is_empty());
    }

    /// Pruning keeps `round(n · (1 − r))` (ties to even) by importance, in order.
    #[test]
    fn prune_step_keeps_the_most_attended() {
        // No merge step: r = 1 − 4·0.5/4 = 0.5; 5 · 0.5 = 2.5 rounds to 2.
        let mut s = state(0.5, 0.6, 0.1, 4);
        s.merged = true;
        let keep = s.prune_step(&[0.1, 0.5, 0.2, 0.4, 0.3]);
        assert_eq!(keep, vec![1, 3]);
        assert!(s.pruned && !s.wants_importance());
    }
}
