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
    /// explored (official default 0.05, which explores all nodes up to n ≈ 3,000).
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
