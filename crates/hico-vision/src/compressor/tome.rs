//! The `tome` / `tome_ordered` compressors: the reference rule of `tome16_mlp_hd64.py`.
//!
//! Per clip of `N = L·h·w` tokens and target `k = tokens_per_frame · L`:
//!
//! 1. Schedule (`merge_tokens`): while `p ≠ k`, remove `r = p − k` if that is at most
//!    `⌊p/2⌋`, else `⌊p/2⌋` (at 224 px: 392, 196, 98, 34).
//! 2. Each round: the metric is the current feature averaged over the vision tower's
//!    attention heads (`x.reshape(p, heads, D/heads).mean(1)`: 16 heads of 64 channels for
//!    UMT-L, the "hd64" of the name; one group when `heads` does not divide `D`), L2-normalised; even positions `a` score against odd
//!    positions `b` by cosine; each `a` keeps its best `b` (`node_max`, `node_idx`); `a`
//!    tokens sorted by `node_max` descending: the first `r` merge into their partner, the
//!    rest stay.
//! 3. Merge by size-weighted mean: `x ← merge(x·s) / merge(s)`, with sizes summed
//!    (scatter-add of merged `a` rows into their `b` rows).
//! 4. Output: the unmerged `a` tokens in `node_max`-descending order, then all `b` tokens
//!    in position order. `tome_ordered` then sorts the tokens by their first member.
//!
//! The matching is done with the backend's tensor ops on detached features, the indices
//! come to the CPU, and the merge is `select` / `select_assign(Add)` on the features, so
//! gradients flow exactly as in the reference.

use burn::tensor::{IndexingUpdateOp, Int, Tensor, TensorData};
use hico_backend::HicoBackend;
use hico_core::{ClipCompressor, CompressedClips, PatchGrid};

/// The reference's schedule of tokens removed per round, from `p` tokens to `target`.
pub fn merge_schedule(mut p: usize, target: usize) -> Vec<usize> {
    let mut out = Vec::new();
    while p > target {
        if p - target <= p / 2 {
            out.push(p - target);
            break;
        }
        out.push(p / 2);
        p -= p / 2;
    }
    out
}

/// Bipartite soft matching to `tokens_per_frame · L` tokens per clip.
#[derive(Debug, Clone, Copy)]
pub struct Tome {
    /// Output tokens per frame.
    pub tokens_per_frame: usize,
    /// Sort the output in space-time order (`tome_ordered`).
    pub ordered: bool,
    /// Channel groups averaged into the matching metric: the vision tower's head count.
    pub heads: usize,
}

fn ints<B: HicoBackend>(v: Vec<i64>, device: &B::Device) -> Tensor<B, 1, Int> {
    let n = v.len();
    Tensor::from_data(TensorData::new(v, [n]), device)
}

impl Tome {
    /// A compressor to `tokens_per_frame` per frame; `ordered` for `tome_ordered`; the
    /// metric averages `heads` channel groups (the vision tower's attention heads).
    pub fn new(tokens_per_frame: usize, ordered: bool, heads: usize) -> Self {
        Self {
            tokens_per_frame,
            heads,
            ordered,
        }
    }

    /// One round: remove `r` tokens from each clip of `x` (`[c, p, D]`, sizes `[c, p, 1]`).
    fn round<B: HicoBackend>(
        &self,
        x: Tensor<B, 3>,
        size: Tensor<B, 3>,
        r: usize,
        members: &mut [Vec<Vec<u32>>],
    ) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let [c, p, d] = x.dims();
        let dev = x.device();
        let r = r.min(p / 2);
        let groups = if self.heads > 0 && d.is_multiple_of(self.heads) {
            self.heads
        } else {
            1
        };
        let metric = x
            .clone()
            .detach()
            .reshape([c, p, groups, d / groups])
            .mean_dim(2)
            .reshape([c, p, d / groups]);
        let metric = metric.clone() / metric.powf_scalar(2.0).sum_dim(2).sqrt();
        let (na, nb) = (p.div_ceil(2), p / 2);
        let even = ints::<B>((0..na as i64).map(|i| 2 * i).collect(), &dev);
        let odd = ints::<B>((0..nb as i64).map(|i| 2 * i + 1).collect(), &dev);
        let a = metric.clone().select(1, even);
        let b = metric.select(1, odd);
        let (node_max, node_idx) = a.matmul(b.swap_dims(1, 2)).max_dim_with_indices(2);
        let node_max = node_max
            .into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .unwrap();
        let node_idx = node_idx
            .into_data()
            .convert::<i64>()
            .into_vec::<i64>()
            .unwrap();

        let q = p - r;
        let (mut keep, mut src, mut dst) = (Vec::new(), Vec::new(), Vec::new());
        for (ci, clip) in members.iter_mut().enumerate() {
            let (nm, ni) = (
                &node_max[ci * na..(ci + 1) * na],
                &node_idx[ci * na..(ci + 1) * na],
            );
            let mut order: Vec<usize> = (0..na).collect();
            order.sort_by(|&i, &j| nm[j].total_cmp(&nm[i]));
            let old = std::mem::take(clip);
            let mut new: Vec<Vec<u32>> = order[r..].iter().map(|&e| old[2 * e].clone()).collect();
            new.extend((0..nb).map(|o| old[2 * o + 1].clone()));
            keep.extend(order[r..].iter().map(|&e| (ci * p + 2 * e) as i64));
            keep.extend((0..nb).map(|o| (ci * p + 2 * o + 1) as i64));
            for &e in &order[..r] {
                let target = (na - r) + ni[e] as usize;
                new[target].extend_from_slice(&old[2 * e]);
                src.push((ci * p + 2 * e) as i64);
                dst.push((ci * q + target) as i64);
            }
            *clip = new;
        }
        let (keep, src, dst) = (
            ints::<B>(keep, &dev),
            ints::<B>(src, &dev),
            ints::<B>(dst, &dev),
        );
        let merge = |t: Tensor<B, 2>| {
            t.clone().select(0, keep.clone()).select_assign(
                0,
                dst.clone(),
                t.select(0, src.clone()),
                IndexingUpdateOp::Add,
            )
        };
        let xs = merge((x * size.clone()).reshape([c * p, d]));
        let ss = merge(size.reshape([c * p, 1]));
        let x = (xs / ss.clone()).reshape([c, q, d]);
        (x, ss.reshape([c, q, 1]))
    }
}

impl<B: HicoBackend> ClipCompressor<B> for Tome {
    fn output_tokens(&self, grid: &PatchGrid) -> usize {
        (self.tokens_per_frame * grid.frames).min(grid.per_clip())
    }

    /// # Shapes
    /// - `tokens`: `[n, L·h·w, D]`; returns `[n, tokens_per_frame·L, D]`
    fn compress(&self, tokens: Tensor<B, 3>, grid: &PatchGrid) -> CompressedClips<B> {
        let [c, n, d] = tokens.dims();
        let target = <Self as ClipCompressor<B>>::output_tokens(self, grid);
        let mut members: Vec<Vec<Vec<u32>>> = vec![(0..n as u32).map(|i| vec![i]).collect(); c];
        let mut x = tokens;
        let mut size = Tensor::ones([c, n, 1], &x.device());
        for r in merge_schedule(n, target) {
            (x, size) = self.round(x, size, r, &mut members);
        }
        members.iter_mut().flatten().for_each(|m| m.sort_unstable());
        if self.ordered {
            let mut perm = Vec::with_capacity(c * target);
            for (ci, clip) in members.iter_mut().enumerate() {
                let mut idx: Vec<usize> = (0..clip.len()).collect();
                idx.sort_by_key(|&j| clip[j][0]);
                perm.extend(idx.iter().map(|&j| (ci * target + j) as i64));
                *clip = idx.iter().map(|&j| std::mem::take(&mut clip[j])).collect();
            }
            let dev = x.device();
            x = x
                .reshape([c * target, d])
                .select(0, ints::<B>(perm, &dev))
                .reshape([c, target, d]);
        }
        CompressedClips {
            features: x,
            members,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_schedule() {
        assert_eq!(merge_schedule(784, 64), vec![392, 196, 98, 34]);
        assert_eq!(merge_schedule(64, 16), vec![32, 16]);
        assert_eq!(merge_schedule(10, 10), Vec::<usize>::new());
        assert_eq!(merge_schedule(10, 7), vec![3]);
    }
}
