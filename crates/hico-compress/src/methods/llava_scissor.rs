//! `llava_scissor`: LLaVA-Scissor, "Token Compression with Semantic Connected Components for
//! Video LLMs" (arXiv 2506.21862).
//!
//! Written from `HumanMLLM/LLaVA-Scissor`, `llava/model/llava_arch_zip.py`: `UnionFind`,
//! `approximate_components()` and the `mm_use_zip` branch of
//! `LlavaMetaForCausalLM.prepare_inputs_labels_for_multimodal()`. Two tokens are linked when
//! their cosine similarity exceeds `mm_zip_tau`; each *semantic connected component* becomes
//! the mean of its tokens. This runs per frame (spatial), then over all the frames'
//! representatives (temporal); finally every original token joins its most similar temporal
//! representative, and output `j` is `(rep_j + Σ its tokens) / (count_j + 1)`. Output order:
//! the temporal components as `approximate_components()` sorts them (by the index of their
//! highest-degree node).
//!
//! The official code draws the nodes it explores with `np.random.choice`; hico takes them
//! deterministically ([`sample_nodes`]). The union-find (union by rank, path halving) and its
//! collection of a cluster as the nodes whose *parent* is the root are reproduced as they are.

use serde::{Deserialize, Serialize};

use crate::util::{dot, mean_rows, normalize_rows, rows_f64};
use crate::{CompressError, Input, Plan, Result, Rule};

/// Parameters of `llava_scissor`, named as the keys of the official model `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlavaScissor {
    /// Similarity threshold τ: two tokens are linked when their cosine similarity is above it
    /// (the official README's default setting, 0.9; the code's fallback is 0.95).
    pub mm_zip_tau: f64,
    /// Error tolerance ε of the approximate components: `min(n, ceil(ln n / ε²))` nodes are
    /// explored (official default 0.05, which explores all nodes up to n = 3,233).
    pub mm_zip_epsilon: f64,
}

impl Default for LlavaScissor {
    fn default() -> Self {
        Self {
            mm_zip_tau: 0.9,
            mm_zip_epsilon: 0.05,
        }
    }
}

/// The official `UnionFind`: union by rank, path halving in `find`.
struct UnionFind {
    parent: Vec<usize>,
    rank: Vec<u32>,
}

impl UnionFind {
    fn new(n: usize) -> Self {
        Self {
            parent: (0..n).collect(),
            rank: vec![0; n],
        }
    }

    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    fn union(&mut self, x: usize, y: usize) {
        let (xr, yr) = (self.find(x), self.find(y));
        if xr == yr {
            return;
        }
        if self.rank[xr] < self.rank[yr] {
            self.parent[xr] = yr;
        } else {
            self.parent[yr] = xr;
            if self.rank[xr] == self.rank[yr] {
                self.rank[xr] += 1;
            }
        }
    }
}

/// Nodes explored of `n`: the official `min(n, int(np.ceil(np.log(n) / epsilon**2)))`.
pub fn sample_size(n: usize, epsilon: f64) -> usize {
    let s = ((n as f64).ln() / (epsilon * epsilon)).ceil();
    if s >= n as f64 { n } else { s as usize }
}

/// hico's deterministic stand-in for the official `np.random.choice(n, size, replace=False)`:
/// node `k·n / size` (integer division) for `k` in `0..size`, i.e. every node in ascending
/// order when `size == n`, else evenly spaced nodes.
pub fn sample_nodes(n: usize, size: usize) -> Vec<usize> {
    (0..size).map(|k| k * n / size).collect()
}

/// The official `approximate_components()` on a row-major `n × n` boolean adjacency, with
/// the nodes of [`sample_nodes`]: the components in the official order.
///
/// Sampled nodes and their neighbours are united; every unique root of a sampled node gives
/// the cluster of nodes whose parent is that root (a node left two steps below it belongs to
/// none); each node neither sampled nor a neighbour is a component of its own. Components
/// are sorted by the index of their highest-degree node (ties to the lower node).
pub fn approximate_components(adj: &[bool], n: usize, epsilon: f64) -> Vec<Vec<usize>> {
    if n == 0 {
        return Vec::new();
    }
    let sampled = sample_nodes(n, sample_size(n, epsilon));
    let mut untouched = vec![true; n];
    let mut edges = Vec::new();
    for &i in &sampled {
        untouched[i] = false;
        for j in (0..n).filter(|&j| adj[i * n + j]) {
            untouched[j] = false;
            edges.push((i, j));
        }
    }
    let mut uf = UnionFind::new(n);
    for (x, y) in edges {
        uf.union(x, y);
    }
    let mut roots: Vec<usize> = sampled.iter().map(|&i| uf.find(i)).collect();
    roots.sort_unstable();
    roots.dedup();
    let mut components: Vec<Vec<usize>> = roots
        .iter()
        .map(|&r| (0..n).filter(|&i| uf.parent[i] == r).collect::<Vec<_>>())
        .filter(|c| !c.is_empty())
        .collect();
    components.extend((0..n).filter(|&i| untouched[i]).map(|i| vec![i]));
    let degrees: Vec<usize> = adj
        .chunks_exact(n)
        .map(|row| row.iter().filter(|&&a| a).count())
        .collect();
    // Members are ascending, so the first highest degree is the lowest such node.
    let key = |c: &Vec<usize>| {
        let mut best = c[0];
        for &i in c {
            if degrees[i] > degrees[best] {
                best = i;
            }
        }
        best
    };
    components.sort_by_cached_key(key);
    components
}

/// Components of the rows `feats` (`[m, c]`, f64): adjacency `cos > tau`.
fn components(feats: &[f64], c: usize, tau: f64, epsilon: f64) -> Vec<Vec<usize>> {
    let m = feats.len() / c;
    let x = normalize_rows(feats, c);
    let mut adj = vec![false; m * m];
    for (i, ri) in x.chunks_exact(c).enumerate() {
        for (j, rj) in x.chunks_exact(c).enumerate() {
            adj[i * m + j] = dot(ri, rj) > tau;
        }
    }
    approximate_components(&adj, m, epsilon)
}

impl LlavaScissor {
    fn check(&self) -> Result<()> {
        if !self.mm_zip_tau.is_finite() {
            return Err(CompressError::Param {
                method: "llava_scissor",
                param: "mm_zip_tau",
                msg: format!("{} is not a similarity threshold", self.mm_zip_tau),
            });
        }
        if !(self.mm_zip_epsilon > 0.0 && self.mm_zip_epsilon.is_finite()) {
            return Err(CompressError::Param {
                method: "llava_scissor",
                param: "mm_zip_epsilon",
                msg: format!(
                    "{} is not a positive error tolerance (the official ceil(ln n / ε²) needs one)",
                    self.mm_zip_epsilon
                ),
            });
        }
        Ok(())
    }
}

impl Rule for LlavaScissor {
    const KIND: &'static str = "llava_scissor";

    fn plan(&self, x: &Input) -> Result<Plan> {
        self.check()?;
        let (n, c) = (x.n, x.c);
        let (tau, eps) = (self.mm_zip_tau, self.mm_zip_epsilon);
        let feat = rows_f64(x);

        // Spatial: per frame, each component -> the mean of its tokens (flat members kept).
        let mut spatial_members: Vec<Vec<usize>> = Vec::new();
        let mut spatial_feats: Vec<f64> = Vec::new();
        for f in 0..x.t {
            let frame = &feat[f * n * c..(f + 1) * n * c];
            for comp in components(frame, c, tau, eps) {
                spatial_feats.extend(mean_rows(frame, c, comp.iter().copied()));
                spatial_members.push(comp.iter().map(|&i| f * n + i).collect());
            }
        }

        // Temporal: over all spatial representatives; weights over the input tokens.
        let mut selected: Vec<f64> = Vec::new();
        let mut groups: Vec<Vec<(usize, f64)>> = Vec::new();
        for comp in components(&spatial_feats, c, tau, eps) {
            selected.extend(mean_rows(&spatial_feats, c, comp.iter().copied()));
            let share = 1.0 / comp.len() as f64;
            groups.push(
                comp.iter()
                    .flat_map(|&r| {
                        let m = &spatial_members[r];
                        let w = share / m.len() as f64;
                        m.iter().map(move |&i| (i, w))
                    })
                    .collect(),
            );
        }

        // Merge: every token joins its most similar representative (first maximum).
        let sel = normalize_rows(&selected, c);
        let all = normalize_rows(&feat, c);
        let mut counts = vec![1usize; groups.len()];
        for (i, row) in all.chunks_exact(c).enumerate() {
            let mut best = (0, f64::NEG_INFINITY);
            for (j, s) in sel.chunks_exact(c).enumerate() {
                let v = dot(row, s);
                if v > best.1 {
                    best = (j, v);
                }
            }
            groups[best.0].push((i, 1.0));
            counts[best.0] += 1;
        }

        let groups = groups
            .into_iter()
            .zip(counts)
            .map(|(mut g, count)| {
                let count = count as f64;
                g.sort_by_key(|&(i, _)| i);
                let mut out: Vec<(u32, f32)> = Vec::with_capacity(g.len());
                let mut last: Option<(usize, f64)> = None;
                for (i, w) in g {
                    match last {
                        Some((li, lw)) if li == i => last = Some((i, lw + w)),
                        Some((li, lw)) => {
                            out.push((li as u32, (lw / count) as f32));
                            last = Some((i, w));
                        }
                        None => last = Some((i, w)),
                    }
                }
                if let Some((li, lw)) = last {
                    out.push((li as u32, (lw / count) as f32));
                }
                out
            })
            .collect();
        Ok(Plan { groups })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_sizes_and_nodes() {
        assert_eq!(sample_size(196, 0.05), 196);
        assert_eq!(sample_size(16, 0.5), 12); // ceil(ln 16 / 0.25) = ceil(11.09)
        assert_eq!(sample_size(1, 0.05), 0);
        assert_eq!(sample_nodes(4, 4), vec![0, 1, 2, 3]);
        assert_eq!(
            sample_nodes(16, 12),
            vec![0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14]
        );
    }

    #[test]
    fn a_node_two_steps_below_the_root_falls_out() {
        // Edges 0-1, 2-3, 4-1, 4-3 (and self loops); ε = 0.8 samples nodes 0, 2, 4. Node 3
        // hangs below 2, which is linked under 0: its parent is not the root.
        let mut adj = vec![false; 36];
        for i in 0..6 {
            adj[i * 6 + i] = true;
        }
        for (i, j) in [(0, 1), (2, 3), (4, 1), (4, 3)] {
            adj[i * 6 + j] = true;
            adj[j * 6 + i] = true;
        }
        assert_eq!(
            approximate_components(&adj, 6, 0.8),
            vec![vec![0, 1, 2, 4], vec![5]]
        );
        // All nodes sampled: the exact components.
        assert_eq!(
            approximate_components(&adj, 6, 0.05),
            vec![vec![0, 1, 2, 3, 4], vec![5]]
        );
    }

    #[test]
    fn hand_checked_two_frames() {
        // Frame 0: two near-identical tokens (one spatial component); frame 1: orthogonal
        // tokens. Temporal: {frame-0 rep, token 3} and {token 2}. Merge: tokens 0, 1, 3 join
        // the first (count 3 + 1), token 2 the second (count 1 + 1).
        let data = [1.0, 0.0, 1.0, 0.01, 0.0, 1.0, 1.0, 0.0];
        let x = Input::new(&data, 2, 2, 2).unwrap();
        let p = LlavaScissor::default().plan(&x).unwrap();
        assert_eq!(
            p.groups,
            vec![vec![(0, 0.3125), (1, 0.3125), (3, 0.375)], vec![(2, 1.0)]]
        );
        assert_eq!(p.source(), vec![0, 2]);
        let out = p.apply(&x);
        assert!((out[0] - 1.0).abs() < 1e-6 && (out[1] - 0.003125).abs() < 1e-6);
    }

    #[test]
    fn parameters_the_official_code_cannot_run() {
        let data = [1.0f32; 8];
        let x = Input::new(&data, 2, 2, 2).unwrap();
        for eps in [0.0, -0.1, f64::NAN] {
            let m = LlavaScissor {
                mm_zip_epsilon: eps,
                ..LlavaScissor::default()
            };
            let e = m.plan(&x).unwrap_err().to_string();
            assert!(e.contains("mm_zip_epsilon"), "{e}");
        }
        let m = LlavaScissor {
            mm_zip_tau: f64::NAN,
            ..LlavaScissor::default()
        };
        assert!(m.plan(&x).unwrap_err().to_string().contains("mm_zip_tau"));
    }
}
