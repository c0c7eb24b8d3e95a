//! The `temporal` compressor: merge a patch with the same patch of the neighbouring frame
//! when they are similar, to a budget of `tokens_per_frame · L` tokens per clip.
//!
//! The rule (a union of neighbours, greedy, most similar first; cosine similarity):
//!
//! 1. **Static content.** Temporal edges `(t, y, x) – (t+1, y, x)` whose patch features
//!    have similarity above `threshold` are joined, most similar first.
//! 2. **More time.** If still above budget, the remaining temporal edges are re-scored
//!    between the *groups* formed so far (cosine of group means, once at the start of the
//!    phase) and joined, most similar first. The threshold therefore matters: it decides which groups exist when the
//!    weaker temporal links are ranked.
//! 3. **Space.** If still above budget (at most `h·w` tokens can remain after 1–2), the
//!    spatial edges `(t, y, x) – (t, y, x+1)` and `(t, y, x) – (t, y+1, x)` are re-scored
//!    between the groups formed so far (once) and joined, most similar first.
//!
//! Each phase stops as soon as the budget is reached; ties break by edge order (time,
//! then row, then column). A merged token is the mean of its patches (size-weighted);
//! output tokens are in space-time order of their first patch.

use burn::tensor::Tensor;
use hico_backend::HicoBackend;
use hico_core::{ClipCompressor, CompressedClips, PatchGrid};

use super::{clip_rows, mean_of_groups, sort_space_time};

/// Temporal-neighbour merging to a budget.
#[derive(Debug, Clone, Copy)]
pub struct Temporal {
    /// Output tokens per frame.
    pub tokens_per_frame: usize,
    /// Similarity above which temporal neighbours merge first.
    pub threshold: f32,
}

/// Union-find over the patches of one clip.
struct Groups {
    parent: Vec<usize>,
    count: usize,
}

impl Groups {
    fn find(&mut self, mut i: usize) -> usize {
        while self.parent[i] != i {
            self.parent[i] = self.parent[self.parent[i]];
            i = self.parent[i];
        }
        i
    }
    fn union(&mut self, a: usize, b: usize) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        self.parent[ra.max(rb)] = ra.min(rb);
        self.count -= 1;
        true
    }
    /// Unit-norm mean feature of each group root (zero for non-roots).
    fn unit_means(&mut self, x: &[f32], d: usize) -> Vec<f32> {
        let n = self.parent.len();
        let mut m = vec![0f32; n * d];
        for i in 0..n {
            let r = self.find(i);
            for k in 0..d {
                m[r * d + k] += x[i * d + k];
            }
        }
        for r in 0..n {
            let v = &mut m[r * d..(r + 1) * d];
            let norm = v.iter().map(|a| a * a).sum::<f32>().sqrt().max(1e-12);
            v.iter_mut().for_each(|a| *a /= norm);
        }
        m
    }
}

impl Temporal {
    /// A compressor to `tokens_per_frame` per frame with the given threshold.
    pub fn new(tokens_per_frame: usize, threshold: f32) -> Self {
        Self {
            tokens_per_frame,
            threshold,
        }
    }

    /// Join the edges in decreasing score (stable), until `budget` groups remain.
    fn join(g: &mut Groups, mut edges: Vec<(f32, usize, usize)>, budget: usize) {
        edges.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (_, a, b) in edges {
            if g.count <= budget {
                return;
            }
            g.union(a, b);
        }
    }

    /// The groups of one clip (`x`: `N × d` row-major).
    pub fn groups(&self, x: &[f32], d: usize, grid: &PatchGrid, budget: usize) -> Vec<Vec<u32>> {
        let n = grid.per_clip();
        let hw = grid.per_frame();
        let mut g = Groups {
            parent: (0..n).collect(),
            count: n,
        };
        let temporal: Vec<(usize, usize)> =
            (0..n.saturating_sub(hw)).map(|i| (i, i + hw)).collect();
        let mut spatial = Vec::new();
        for i in 0..n {
            let (y, xx) = grid.cell_of(i as u32);
            if xx + 1 < grid.w {
                spatial.push((i, i + 1));
            }
            if y + 1 < grid.h {
                spatial.push((i, i + grid.w));
            }
        }
        let score = |g: &mut Groups, edges: &[(usize, usize)]| {
            let m = g.unit_means(x, d);
            edges
                .iter()
                .filter_map(|&(a, b)| {
                    let (ra, rb) = (g.find(a), g.find(b));
                    (ra != rb).then(|| {
                        let s = (0..d).map(|k| m[ra * d + k] * m[rb * d + k]).sum::<f32>();
                        (s, a, b)
                    })
                })
                .collect::<Vec<_>>()
        };
        let first: Vec<_> = score(&mut g, &temporal)
            .into_iter()
            .filter(|e| e.0 > self.threshold)
            .collect();
        Self::join(&mut g, first, budget);
        let second = score(&mut g, &temporal);
        Self::join(&mut g, second, budget);
        let third = score(&mut g, &spatial);
        Self::join(&mut g, third, budget);

        let mut by_root: Vec<Vec<u32>> = vec![Vec::new(); n];
        for i in 0..n {
            let r = g.find(i);
            by_root[r].push(i as u32);
        }
        sort_space_time(by_root.into_iter().filter(|v| !v.is_empty()).collect())
    }
}

impl<B: HicoBackend> ClipCompressor<B> for Temporal {
    fn output_tokens(&self, grid: &PatchGrid) -> usize {
        (self.tokens_per_frame * grid.frames).clamp(1, grid.per_clip())
    }

    /// # Shapes
    /// - `tokens`: `[n, L·h·w, D]`; returns `[n, tokens_per_frame·L, D]`
    fn compress(&self, tokens: Tensor<B, 3>, grid: &PatchGrid) -> CompressedClips<B> {
        let d = tokens.dims()[2];
        let budget = <Self as ClipCompressor<B>>::output_tokens(self, grid);
        let groups: Vec<Vec<Vec<u32>>> = clip_rows(&tokens.clone().detach())
            .iter()
            .map(|x| self.groups(x, d, grid, budget))
            .collect();
        CompressedClips {
            features: mean_of_groups(tokens, &groups),
            members: groups,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit vector at `deg` degrees in the plane of dims `(i, i+1)` of 4.
    fn at(i: usize, deg: f32) -> [f32; 4] {
        let mut v = [0.0; 4];
        v[i] = deg.to_radians().cos();
        v[i + 1] = deg.to_radians().sin();
        v
    }

    #[test]
    fn threshold_changes_which_temporal_links_win() {
        // 3 frames of 1 × 2 patches: A (ids 0, 2, 4) and B (ids 1, 3, 5). Raw temporal
        // similarities: A01 0.95, B01 0.8, A12 0.7, B12 0.6; budget 3 = three joins.
        let (a1, a2) = (0.95f32.acos().to_degrees(), 0.7f32.acos().to_degrees());
        let (b1, b2) = (0.8f32.acos().to_degrees(), 0.6f32.acos().to_degrees());
        let rows = [
            at(0, 0.0),
            at(2, 0.0),
            at(0, a1),
            at(2, b1),
            at(0, a1 + a2),
            at(2, b1 + b2),
        ];
        let x: Vec<f32> = rows.iter().flatten().copied().collect();
        let grid = PatchGrid {
            frames: 3,
            h: 1,
            w: 2,
        };
        // No pair over the threshold: the three best raw links win.
        let plain = Temporal::new(1, 1.0).groups(&x, 4, &grid, 3);
        assert_eq!(plain, vec![vec![0, 2, 4], vec![1, 3], vec![5]]);
        // A0–A1 joins first; re-scored against the group mean, A1–A2 falls to 0.58 < 0.6.
        let thr = Temporal::new(1, 0.9).groups(&x, 4, &grid, 3);
        assert_eq!(thr, vec![vec![0, 2], vec![1, 3, 5], vec![4]]);
    }
}
