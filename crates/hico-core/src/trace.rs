//! What a run records about the LLM's treatment of visual tokens: which original visual
//! tokens survive each layer ([`RetentionTrace`]) and where the query tokens look,
//! aggregated per frame ([`AttentionCapture`]). Both are saved as JSON beside a run.

use serde::{Deserialize, Serialize};

/// A change of the kept visual set: after decoder layer `after_layer` (1-based, as in the
/// reference's `layer_list`), only `kept` (original visual indices, ascending) remain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionStage {
    /// 1-based decoder layer after which the drop happened.
    pub after_layer: usize,
    /// Original visual indices still present from layer `after_layer + 1` on, ascending.
    pub kept: Vec<u32>,
}

/// Which original visual tokens are present at every decoder layer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionTrace {
    /// Number of decoder layers.
    pub n_layers: usize,
    /// Number of visual tokens entering the LLM.
    pub n_visual: usize,
    /// Drops in layer order. Empty means every token reaches every layer.
    pub stages: Vec<RetentionStage>,
}

impl RetentionTrace {
    /// A trace in which nothing is dropped.
    pub fn full(n_layers: usize, n_visual: usize) -> Self {
        Self {
            n_layers,
            n_visual,
            stages: Vec::new(),
        }
    }

    /// Original visual indices present at the input of decoder layer `layer` (1-based).
    pub fn kept_at(&self, layer: usize) -> Vec<u32> {
        self.stages
            .iter()
            .rev()
            .find(|s| s.after_layer < layer)
            .map(|s| s.kept.clone())
            .unwrap_or_else(|| (0..self.n_visual as u32).collect())
    }

    /// Count of visual tokens at the input of each layer `1..=n_layers`.
    pub fn counts(&self) -> Vec<usize> {
        (1..=self.n_layers)
            .map(|l| {
                self.stages
                    .iter()
                    .rev()
                    .find(|s| s.after_layer < l)
                    .map_or(self.n_visual, |s| s.kept.len())
            })
            .collect()
    }
}

/// Attention of the query tokens, averaged over heads and queries, summed per sampled frame,
/// for chosen layers. A merged token's mass is split evenly over the frames it covers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AttentionCapture {
    /// 1-based decoder layers captured.
    pub layers: Vec<usize>,
    /// Timestamp (s) of each sampled frame: the x axis of attention plots.
    pub frame_times: Vec<f64>,
    /// `per_frame[i][f]`: attention mass on sampled frame `f` at `layers[i]`.
    pub per_frame: Vec<Vec<f32>>,
    /// `text[i]`: attention mass on non-visual tokens at `layers[i]`.
    pub text: Vec<f32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_at_follows_stages() {
        let t = RetentionTrace {
            n_layers: 4,
            n_visual: 4,
            stages: vec![
                RetentionStage {
                    after_layer: 1,
                    kept: vec![0, 2, 3],
                },
                RetentionStage {
                    after_layer: 3,
                    kept: vec![2],
                },
            ],
        };
        assert_eq!(t.kept_at(1), vec![0, 1, 2, 3]);
        assert_eq!(t.kept_at(2), vec![0, 2, 3]);
        assert_eq!(t.kept_at(4), vec![2]);
        assert_eq!(t.counts(), vec![4, 3, 3, 1]);
    }
}
