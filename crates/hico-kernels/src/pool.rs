//! Means of the tokens of each cell of a patch grid in one pass over the input (the `pool`
//! compressor's work): every frame's `h × w` grid is cut into `sh × sw` cells with boundaries
//! `⌊i·n/s⌋`, and each cell's output row is the mean of its members' feature rows. Work is
//! split by (clip, frame, cell row), one contiguous share per thread ([`super::split`]); rows
//! are summed with vectorisable loops.

use super::simd::simd_fn;
use super::split::static_vec;

pub use super::view::View3;

/// The cell grid: `frames` frames of `h × w` patches, cut into `sh × sw` cells each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cells {
    /// Frames per clip.
    pub frames: usize,
    /// Patch rows per frame.
    pub h: usize,
    /// Patch columns per frame.
    pub w: usize,
    /// Cell rows (`1..=h`).
    pub sh: usize,
    /// Cell columns (`1..=w`).
    pub sw: usize,
}

/// The mean feature of every cell: `[clips, frames·h·w, D]` → `[clips, frames·sh·sw, D]`
/// (frame-major, then row-major cells), contiguous.
pub fn cell_means(x: View3, cells: Cells) -> Vec<f32> {
    let [c, n, d] = x.shape;
    let Cells {
        frames,
        h,
        w,
        sh,
        sw,
    } = cells;
    assert!(
        n == frames * h * w && (1..=h).contains(&sh) && (1..=w).contains(&sw),
        "cell_means: {n} tokens for {frames} frames of {h}×{w}, cells {sh}×{sw}"
    );
    x.check("cell_means");
    // One task per (clip, frame, cell row): its `sw · D` outputs are contiguous. The tasks
    // are uniform, so they are split statically: on every call each core reads the same part
    // of the input, and zeroes its own part of the output.
    let len = c * frames * sh * sw * d;
    if len == 0 {
        return Vec::new();
    }
    static_vec(len, sw * d, |t, dst| cell_row(x, cells, t, dst))
}

simd_fn!(fn cell_row(x: View3, cells: Cells, t: usize, dst: &mut [f32]) => cell_row_body);

/// Task `t`: the means of the `sw` cells of one (clip, frame, cell row) into `dst`
/// (`sw · D`, zeroed).
#[inline(always)]
fn cell_row_body(x: View3, cells: Cells, t: usize, dst: &mut [f32]) {
    let [_, _, d] = x.shape;
    let Cells {
        frames,
        h,
        w,
        sh,
        sw,
    } = cells;
    let (ci, rest) = (t / (frames * sh), t % (frames * sh));
    let (f, cy) = (rest / sh, rest % sh);
    let (y0, y1) = (cy * h / sh, (cy + 1) * h / sh);
    // Strided features are gathered into `row` first (allocated only then).
    let mut row = Vec::new();
    for cx in 0..sw {
        let (x0, x1) = (cx * w / sw, (cx + 1) * w / sw);
        let acc = &mut dst[cx * d..(cx + 1) * d];
        for y in y0..y1 {
            for xx in x0..x1 {
                let token = f * h * w + y * w + xx;
                let at = x.offset + ci * x.strides[0] + token * x.strides[1];
                let src: &[f32] = if x.strides[2] == 1 {
                    &x.data[at..at + d]
                } else {
                    row.clear();
                    row.extend((0..d).map(|k| x.data[at + k * x.strides[2]]));
                    &row
                };
                acc.iter_mut().zip(src).for_each(|(a, s)| *a += s);
            }
        }
        let inv = 1.0 / ((y1 - y0) * (x1 - x0)) as f32;
        acc.iter_mut().for_each(|a| *a *= inv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uneven_cells_average_their_members() {
        // One clip, two frames of 3×5 patches, 2×2 cells: rows {0}, {1,2}; cols {0,1}, {2,3,4}.
        let (frames, h, w, d) = (2, 3, 5, 2);
        let n = frames * h * w;
        // Feature k of token t is t·10 + k.
        let data: Vec<f32> = (0..n * d).map(|i| ((i / d) * 10 + i % d) as f32).collect();
        let x = View3 {
            data: &data,
            offset: 0,
            shape: [1, n, d],
            strides: [n * d, d, 1],
        };
        let cells = Cells {
            frames,
            h,
            w,
            sh: 2,
            sw: 2,
        };
        let got = cell_means(x, cells);
        assert_eq!(got.len(), frames * 4 * d);
        let mean = |ts: &[usize], k: usize| {
            ts.iter().map(|t| (t * 10 + k) as f32).sum::<f32>() / ts.len() as f32
        };
        // Frame 1, cell (1, 1): rows 1..3, cols 2..5.
        let members: Vec<usize> = (1..3)
            .flat_map(|y| (2..5).map(move |x| 15 + y * 5 + x))
            .collect();
        for k in 0..d {
            assert_eq!(got[(4 + 3) * d + k], mean(&members, k));
            assert_eq!(got[k], mean(&[0, 1], k));
        }
    }

    #[test]
    fn strided_features_equal_contiguous_ones() {
        let (n, d) = (4, 3);
        let data: Vec<f32> = (0..n * d).map(|i| i as f32 * 0.5).collect();
        // The same values stored feature-major ([D, tokens]) and read through strides.
        let mut t = vec![0.0; n * d];
        for i in 0..n {
            for k in 0..d {
                t[k * n + i] = data[i * d + k];
            }
        }
        let cells = Cells {
            frames: 1,
            h: 2,
            w: 2,
            sh: 1,
            sw: 2,
        };
        let a = cell_means(
            View3 {
                data: &data,
                offset: 0,
                shape: [1, n, d],
                strides: [n * d, d, 1],
            },
            cells,
        );
        let b = cell_means(
            View3 {
                data: &t,
                offset: 0,
                shape: [1, n, d],
                strides: [n * d, 1, n],
            },
            cells,
        );
        assert_eq!(a, b);
    }
}
