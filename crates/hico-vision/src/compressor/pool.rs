//! The `pool` compressor: each frame's `h × w` patch grid is averaged over an `s × s` grid
//! of cells (`s = √tokens_per_frame`). Cell boundaries are `⌊i·h/s⌋`, so cells differ in
//! size by at most one row/column and never overlap (unlike PyTorch's adaptive pooling,
//! whose cells overlap when `s` does not divide `h`): every patch lands in one cell.
//!
//! The means are `HicoBackend::cell_means`: on burn's flex CPU backend one pass over the
//! input (the kernel `hico_kernels::pool`); elsewhere two small batched products with the
//! axes' averaging matrices (a cell's mean is the mean over its rows of the per-row means
//! over its columns), the same values up to float rounding.

use burn::tensor::Tensor;
use hico_backend::{Cells, HicoBackend};
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

impl<B: HicoBackend> ClipCompressor<B> for Pool {
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
        let features = B::cell_means(tokens, cells);
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
        use hico_backend::{Cpu, CpuAutodiff, cpu_device};
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
