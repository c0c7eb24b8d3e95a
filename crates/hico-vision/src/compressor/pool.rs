//! The `pool` compressor: each frame's `h × w` patch grid is averaged over an `s × s` grid
//! of cells (`s = √tokens_per_frame`). Cell boundaries are `⌊i·h/s⌋`, so cells differ in
//! size by at most one row/column and never overlap (unlike PyTorch's adaptive pooling,
//! whose cells overlap when `s` does not divide `h`): every patch lands in one cell.
//!
//! The mean is separable: a cell's mean is the mean over its rows of the per-row means over
//! its columns. `compress` therefore runs two small batched matmuls (columns, then rows)
//! with `[s, w]` and `[s, h]` averaging matrices instead of one dense `[L·s·s, L·h·w]`
//! matrix per clip (mostly zeros: 12× / 14× the multiply-adds at 224 / 448 px), the same
//! values up to float rounding. On burn's flex CPU backend the means come from one pass over
//! the input instead ([`hico_core::kernels::pool`]: the two products read and write
//! the clip twice, which cost several times PyTorch's pool, docs/performance.md).

use burn::tensor::{Tensor, TensorData, backend::Backend};
use hico_core::kernels::pool::Cells;
use hico_core::{ClipCompressor, CompressedClips, PatchGrid};

/// Spatial average pooling per frame.
#[derive(Debug, Clone, Copy)]
pub struct Pool {
    side: usize,
}

impl Pool {
    /// Pooling to `tokens_per_frame` cells per frame (rounded to the nearest square).
    pub fn new(tokens_per_frame: usize) -> Self {
        Self {
            side: ((tokens_per_frame as f64).sqrt().round() as usize).max(1),
        }
    }

    /// Cells of one clip: frame-major, then row-major cell order; members sorted.
    pub fn groups(&self, grid: &PatchGrid) -> Vec<Vec<u32>> {
        let (sh, sw) = (self.side.min(grid.h), self.side.min(grid.w));
        let edges = |n: usize, s: usize| (0..=s).map(|i| i * n / s).collect::<Vec<_>>();
        let (ey, ex) = (edges(grid.h, sh), edges(grid.w, sw));
        let mut out = Vec::with_capacity(grid.frames * sh * sw);
        for t in 0..grid.frames {
            for cy in 0..sh {
                for cx in 0..sw {
                    let (ys, xs) = (ey[cy]..ey[cy + 1], ex[cx]..ex[cx + 1]);
                    let mut g = Vec::with_capacity(ys.len() * xs.len());
                    for y in ys {
                        let row = t * grid.per_frame() + y * grid.w;
                        g.extend(xs.clone().map(|x| (row + x) as u32));
                    }
                    out.push(g);
                }
            }
        }
        out
    }
}

/// The `[1, s, n]` averaging matrix of one axis of length `n` cut into `s` cells
/// (boundaries `⌊i·n/s⌋`): row `c` holds `1 / size` on the positions of cell `c`.
fn axis_means<B: Backend>(n: usize, s: usize, device: &B::Device) -> Tensor<B, 3> {
    let mut w = vec![0f32; s * n];
    for c in 0..s {
        let (a, b) = (c * n / s, (c + 1) * n / s);
        w[c * n + a..c * n + b].fill(1.0 / (b - a) as f32);
    }
    Tensor::from_data(TensorData::new(w, [1, s, n]), device)
}

/// The cells' means by two small batched products with the axes' averaging matrices
/// (columns, then rows of each frame), for backends without hico's CPU kernel.
///
/// # Shapes
/// - `tokens`: `[c, f·h·w, D]`; returns `[c, f·sh·sw, D]`
fn separable_means<B: Backend>(tokens: Tensor<B, 3>, cells: Cells) -> Tensor<B, 3> {
    let [c, _, d] = tokens.dims();
    let Cells {
        frames: f,
        h,
        w,
        sh,
        sw,
    } = cells;
    let dev = tokens.device();
    // Columns first: [c·f·h, w, D] → [c·f·h, sw, D] (measured faster than rows first).
    let cols = axis_means::<B>(w, sw, &dev)
        .expand([c * f * h, sw, w])
        .matmul(tokens.reshape([c * f * h, w, d]));
    // Then rows: [c·f, h, sw·D] → [c·f, sh, sw·D], i.e. frame-major, row-major cells.
    axis_means::<B>(h, sh, &dev)
        .expand([c * f, sh, h])
        .matmul(cols.reshape([c * f, h, sw * d]))
        .reshape([c, f * sh * sw, d])
}

impl<B: Backend> ClipCompressor<B> for Pool {
    fn output_tokens(&self, grid: &PatchGrid) -> usize {
        grid.frames * self.side.min(grid.h) * self.side.min(grid.w)
    }

    /// # Shapes
    /// - `tokens`: `[n, L·h·w, D]`; returns `[n, L·s·s, D]`
    fn compress(&self, tokens: Tensor<B, 3>, grid: &PatchGrid) -> CompressedClips<B> {
        let [c, n, _] = tokens.dims();
        assert_eq!(
            n,
            grid.per_clip(),
            "pool: {n} tokens per clip, grid {grid:?}"
        );
        let (h, w) = (grid.h, grid.w);
        let cells = Cells {
            frames: grid.frames,
            h,
            w,
            sh: self.side.min(h),
            sw: self.side.min(w),
        };
        // One pass over the input on the CPU backend; two separable products elsewhere.
        let features = hico_core::kernels::flex::cell_means(&tokens, cells)
            .unwrap_or_else(|| separable_means(tokens, cells));
        CompressedClips {
            features,
            members: vec![self.groups(grid); c],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_equal_cells() {
        let g = PatchGrid {
            frames: 1,
            h: 7,
            w: 7,
        };
        let cells = Pool::new(4).groups(&g);
        let sizes: Vec<usize> = cells.iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![9, 12, 12, 16]);
        assert_eq!(cells[0], vec![0, 1, 2, 7, 8, 9, 14, 15, 16]);
    }

    /// The CPU kernel (flex) and the separable products (any other backend; here flex under
    /// autodiff, which the kernel does not take) equal the dense mean over each cell's
    /// members (the algorithm before issue #17), on uneven and non-square grids and budgets
    /// above the grid.
    #[test]
    fn kernel_and_separable_products_equal_mean_of_members() {
        use crate::compressor::mean_of_groups;
        use burn::tensor::TensorData;
        use hico_core::backend::{Cpu, CpuAutodiff, cpu_device};
        let dev = cpu_device();
        for (frames, h, w, tpf) in [(4, 14, 14, 16), (2, 7, 5, 9), (3, 2, 3, 16), (1, 5, 5, 1)] {
            let grid = PatchGrid { frames, h, w };
            let (c, n, d) = (2, grid.per_clip(), 6);
            let x: Vec<f32> = (0..c * n * d)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
                .collect();
            let xa =
                Tensor::<CpuAutodiff, 3>::from_data(TensorData::new(x.clone(), [c, n, d]), &dev);
            let x = Tensor::<Cpu, 3>::from_data(TensorData::new(x, [c, n, d]), &dev);
            let pool = Pool::new(tpf);
            let out = ClipCompressor::<Cpu>::compress(&pool, x.clone(), &grid);
            let products = ClipCompressor::<CpuAutodiff>::compress(&pool, xa, &grid);
            let want = mean_of_groups(x, &out.members);
            assert_eq!(out.features.dims(), want.dims(), "{grid:?}");
            let want = want.into_data().into_vec::<f32>().unwrap();
            for got in [out.features.into_data(), products.features.into_data()] {
                let got = got.into_vec::<f32>().unwrap();
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (a - b).abs() <= 1e-5 * b.abs().max(1.0),
                        "{grid:?} [{i}]: {a} vs {b}"
                    );
                }
            }
        }
    }
}
