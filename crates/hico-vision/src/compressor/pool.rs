//! The `pool` compressor: each frame's `h × w` patch grid is averaged over an `s × s` grid
//! of cells (`s = √tokens_per_frame`). Cell boundaries are `⌊i·h/s⌋`, so cells differ in
//! size by at most one row/column and never overlap (unlike PyTorch's adaptive pooling,
//! whose cells overlap when `s` does not divide `h`): every patch lands in one cell.

use burn::tensor::{Tensor, backend::Backend};
use hico_core::{ClipCompressor, CompressedClips, PatchGrid};

use super::mean_of_groups;

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
                    let mut g = Vec::new();
                    for y in ey[cy]..ey[cy + 1] {
                        for x in ex[cx]..ex[cx + 1] {
                            g.push((t * grid.per_frame() + y * grid.w + x) as u32);
                        }
                    }
                    out.push(g);
                }
            }
        }
        out
    }
}

impl<B: Backend> ClipCompressor<B> for Pool {
    fn output_tokens(&self, grid: &PatchGrid) -> usize {
        grid.frames * self.side.min(grid.h) * self.side.min(grid.w)
    }

    /// # Shapes
    /// - `tokens`: `[n, L·h·w, D]`; returns `[n, L·s·s, D]`
    fn compress(&self, tokens: Tensor<B, 3>, grid: &PatchGrid) -> CompressedClips<B> {
        let groups = vec![self.groups(grid); tokens.dims()[0]];
        CompressedClips {
            features: mean_of_groups(tokens, &groups),
            members: groups,
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
}
