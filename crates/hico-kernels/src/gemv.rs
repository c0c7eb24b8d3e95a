//! Products of a few rows with a large matrix (`[m, k] · [k, n]`, `m` ≤ [`MAX_ROWS`]): the
//! decode step's projections and output head, where every weight is read once per token and
//! the time is memory bandwidth. The gemm crate's path for one row read the 0.5B shape's
//! weights at about 13 GB/s on the 2-core Xeon of docs/performance.md (PyTorch about 21);
//! these loops stream each weight once, in its stored order:
//!
//! - **rows** layout (`w` stored `[k, n]`, a `Linear`'s `[in, out]` weight): each task takes
//!   a contiguous block of rows `i` of `w` (one sixteenth of them) and adds
//!   `x[r, i] · w[i, :]` into its own partial sums, four rows of `w` per pass over the sums;
//!   the partials are added in task order. Streaming one contiguous block per task was
//!   15-20 % faster here than splitting by output columns (which reads a short piece of every
//!   row: many concurrent streams); four rows per pass read 2 GiB of weights at 27-28 GB/s
//!   instead of 21 (PyTorch's `mm` 27-28, a plain vectorised sum 26; issue #17, session 12);
//! - **columns** layout (`w` is the transpose of a stored `[n, k]` matrix, the tied output
//!   head's embedding): `y[r, j] = x[r, :] · wᵀ[j, :]`, a dot product along a stored row
//!   (16 independent accumulators, summed pairwise), four at a time, tasks by blocks of
//!   output columns.
//!
//! Task boundaries depend only on the sizes and every sum runs in one fixed order, so results
//! do not depend on the thread count. Each task runs the widest build of the loops the CPU
//! has ([`super::simd`]).

use rayon::prelude::*;

use super::simd::simd_fn;

/// The most rows a product may have to take these loops (more rows: a matrix product,
/// whose blocking reuses each weight across rows).
pub const MAX_ROWS: usize = 4;

/// Rows of `w` per task in the rows layout: a fixed count per matrix (16 tasks), so the
/// partial sums, added in task order, do not depend on the thread count.
fn rows_per_task(k: usize) -> usize {
    k.div_ceil(16).max(1)
}
/// Output columns per task in the columns layout.
const DOTS: usize = 64;
/// Independent accumulators of a dot product (vectorisable without reassociation).
const LANES: usize = 16;

/// The matrix `w` of a product: `k × n`, element `(i, j)` at `i·n + j` (rows) or `j·k + i`
/// (columns, i.e. the transpose of a stored `[n, k]`).
#[derive(Debug, Clone, Copy)]
pub enum Weights<'a> {
    /// Stored `[k, n]` row-major.
    Rows(&'a [f32]),
    /// Stored `[n, k]` row-major and read transposed.
    Columns(&'a [f32]),
}

/// Rows `i0..i1` of `w`'s contribution to every output: `out[r, :] += x[r, i] · w[i, :]`,
/// reading the rows' block of `w` front to back.
#[inline(always)]
fn rows_block_body(
    x: &[f32],
    w: &[f32],
    (m, k, n): (usize, usize, usize),
    i0: usize,
    out: &mut [f32],
) {
    // `out` is `m × n`, zeroed; this task's rows are `i0 .. i0 + len`. Four rows of `w` per
    // pass over `out`: four weight streams at once, and one load and store of each partial
    // sum per four products instead of per product (27 vs 21 GB/s from memory on the 2-core
    // Xeon of docs/performance.md). The sums keep their order (row by row), so the bits are
    // those of one row per pass.
    let end = i0 + rows_per_task(k).min(k - i0);
    let mut i = i0;
    while i + 4 <= end {
        let row = |t: usize| &w[(i + t) * n..(i + t + 1) * n];
        let (w0, w1, w2, w3) = (row(0), row(1), row(2), row(3));
        for r in 0..m {
            let a = &x[r * k + i..r * k + i + 4];
            let acc = &mut out[r * n..(r + 1) * n];
            for ((((o, &v0), &v1), &v2), &v3) in acc.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
                *o = *o + a[0] * v0 + a[1] * v1 + a[2] * v2 + a[3] * v3;
            }
        }
        i += 4;
    }
    for i in i..end {
        let wrow = &w[i * n..(i + 1) * n];
        for r in 0..m {
            let a = x[r * k + i];
            let acc = &mut out[r * n..(r + 1) * n];
            for (o, &v) in acc.iter_mut().zip(wrow) {
                *o += a * v;
            }
        }
    }
}

#[inline(always)]
fn dot_tail(a: &[f32], b: &[f32]) -> f32 {
    let mut t = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        t += x * y;
    }
    t
}

/// The lanes' sum, pairwise in a fixed order.
#[inline(always)]
fn reduce(acc: &mut [f32; LANES]) -> f32 {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] += acc[l + width];
        }
    }
    acc[0]
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = a.len() / LANES;
    for c in 0..chunks {
        let (x, y) = (
            &a[c * LANES..(c + 1) * LANES],
            &b[c * LANES..(c + 1) * LANES],
        );
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let tail = chunks * LANES;
    reduce(&mut acc) + dot_tail(&a[tail..], &b[tail..])
}

/// Four dot products of `a` with `b[0..4]` at once (four weight streams; each product's
/// lanes and sums in [`dot`]'s order, so the same bits).
#[inline(always)]
fn dot4(a: &[f32], b: [&[f32]; 4]) -> [f32; 4] {
    let (mut s0, mut s1, mut s2, mut s3) =
        ([0.0f32; LANES], [0.0; LANES], [0.0; LANES], [0.0; LANES]);
    let chunks = a.len() / LANES;
    for c in 0..chunks {
        let at = c * LANES..(c + 1) * LANES;
        let (x, y0, y1, y2, y3) = (
            &a[at.clone()],
            &b[0][at.clone()],
            &b[1][at.clone()],
            &b[2][at.clone()],
            &b[3][at],
        );
        for l in 0..LANES {
            s0[l] += x[l] * y0[l];
            s1[l] += x[l] * y1[l];
            s2[l] += x[l] * y2[l];
            s3[l] += x[l] * y3[l];
        }
    }
    let tail = chunks * LANES;
    let t = |s: &mut [f32; LANES], b: &[f32]| reduce(s) + dot_tail(&a[tail..], &b[tail..]);
    [
        t(&mut s0, b[0]),
        t(&mut s1, b[1]),
        t(&mut s2, b[2]),
        t(&mut s3, b[3]),
    ]
}

#[inline(always)]
fn columns_block_body(x: &[f32], wt: &[f32], (m, k): (usize, usize), j0: usize, out: &mut [f32]) {
    // `out` is `m × (j1 − j0)`. Four output columns (stored rows of `wᵀ`) at a time.
    let width = out.len() / m;
    let row = |jj: usize| &wt[(j0 + jj) * k..(j0 + jj + 1) * k];
    let mut jj = 0;
    while jj + 4 <= width {
        let rows = [row(jj), row(jj + 1), row(jj + 2), row(jj + 3)];
        for r in 0..m {
            let y = dot4(&x[r * k..(r + 1) * k], rows);
            out[r * width + jj..r * width + jj + 4].copy_from_slice(&y);
        }
        jj += 4;
    }
    for jj in jj..width {
        for r in 0..m {
            out[r * width + jj] = dot(&x[r * k..(r + 1) * k], row(jj));
        }
    }
}

simd_fn!(fn rows_block(x: &[f32], w: &[f32], s: (usize, usize, usize), j0: usize, out: &mut [f32])
    => rows_block_body);
simd_fn!(fn columns_block(x: &[f32], wt: &[f32], s: (usize, usize), j0: usize, out: &mut [f32])
    => columns_block_body);

/// `y = x · w`: `x` `[m, k]` row-major, `w` `k × n` ([`Weights`]); returns `y` `[m, n]`
/// row-major.
///
/// # Panics
/// If `m` is 0 or above [`MAX_ROWS`], or the slices' lengths do not match the sizes.
pub fn gemv(x: &[f32], w: Weights, (m, k, n): (usize, usize, usize)) -> Vec<f32> {
    assert!(
        (1..=MAX_ROWS).contains(&m) && x.len() == m * k,
        "gemv: {} inputs for {m} rows of {k}",
        x.len()
    );
    let (Weights::Rows(data) | Weights::Columns(data)) = w;
    assert_eq!(
        data.len(),
        k * n,
        "gemv: {} weights for {k} × {n}",
        data.len()
    );
    match w {
        Weights::Rows(wr) => {
            // Each task streams one contiguous block of rows of `w` into its own `m × n`
            // partial sums; the partials are added in task order.
            let starts: Vec<usize> = (0..k).step_by(rows_per_task(k)).collect();
            let parts: Vec<Vec<f32>> = starts
                .par_iter()
                .map(|&i0| {
                    let mut out = vec![0.0f32; m * n];
                    rows_block(x, wr, (m, k, n), i0, &mut out);
                    out
                })
                .collect();
            let mut parts = parts.into_iter();
            let mut y = parts.next().unwrap_or_else(|| vec![0.0f32; m * n]);
            for p in parts {
                y.iter_mut().zip(&p).for_each(|(a, b)| *a += b);
            }
            y
        }
        Weights::Columns(wt) => {
            // Blocks of output columns, each written `m × width`, then scattered into `y`.
            let starts: Vec<usize> = (0..n).step_by(DOTS).collect();
            let parts: Vec<Vec<f32>> = starts
                .par_iter()
                .map(|&j0| {
                    let mut out = vec![0.0f32; m * DOTS.min(n - j0)];
                    columns_block(x, wt, (m, k), j0, &mut out);
                    out
                })
                .collect();
            let mut y = vec![0.0f32; m * n];
            for (&j0, part) in starts.iter().zip(&parts) {
                let width = part.len() / m;
                for r in 0..m {
                    y[r * n + j0..r * n + j0 + width]
                        .copy_from_slice(&part[r * width..(r + 1) * width]);
                }
            }
            y
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::tests::values;
    use crate::on_threads;

    fn reference(x: &[f32], w: &[f32], (m, k, n): (usize, usize, usize), rows: bool) -> Vec<f64> {
        let mut y = vec![0.0f64; m * n];
        for r in 0..m {
            for j in 0..n {
                for i in 0..k {
                    let wij = if rows { w[i * n + j] } else { w[j * k + i] };
                    y[r * n + j] += x[r * k + i] as f64 * wij as f64;
                }
            }
        }
        y
    }

    #[test]
    fn both_layouts_match_f64_across_block_edges() {
        // n not a multiple of either block, k not a multiple of the lanes.
        for (m, k, n) in [(1, 37, 1100), (3, 203, 130), (4, 16, 513), (2, 1, 65)] {
            let x = values(m * k, 1);
            let w = values(k * n, 2);
            for rows in [true, false] {
                let weights = if rows {
                    Weights::Rows(&w)
                } else {
                    Weights::Columns(&w)
                };
                let got = gemv(&x, weights, (m, k, n));
                let want = reference(&x, &w, (m, k, n), rows);
                for (i, (&g, &e)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g as f64 - e).abs() <= 1e-5 * (k as f64).sqrt().max(1.0),
                        "{m}×{k}×{n} rows={rows} y[{i}] = {g}, want {e}"
                    );
                }
            }
        }
    }

    #[test]
    fn four_at_a_time_keeps_the_one_at_a_time_sums() {
        // The rows layout adds row by row into the partials; the columns layout's products
        // are `dot`s: the four-wide passes must give those bits exactly.
        let (m, k, n) = (2, 4 * 16 + 3, 70);
        let (x, w) = (values(m * k, 5), values(k * n, 6));
        let mut rows = vec![0.0f32; m * n];
        rows_block_body(&x, &w, (m, k, n), 0, &mut rows);
        let mut want = vec![0.0f32; m * n];
        for i in 0..rows_per_task(k) {
            for r in 0..m {
                for j in 0..n {
                    want[r * n + j] += x[r * k + i] * w[i * n + j];
                }
            }
        }
        assert_eq!(rows, want);
        let mut cols = vec![0.0f32; m * n];
        columns_block_body(&x, &w, (m, k), 0, &mut cols);
        for r in 0..m {
            for j in 0..n {
                let d = dot(&x[r * k..(r + 1) * k], &w[j * k..(j + 1) * k]);
                assert_eq!(cols[r * n + j], d, "y[{r}, {j}]");
            }
        }
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let (m, k, n) = (2, 300, 2000);
        let (x, w) = (values(m * k, 3), values(k * n, 4));
        let on = |threads, rows| {
            let weights = if rows {
                Weights::Rows(&w)
            } else {
                Weights::Columns(&w)
            };
            on_threads(threads, || gemv(&x, weights, (m, k, n)))
        };
        for rows in [true, false] {
            assert_eq!(on(1, rows), on(3, rows));
        }
    }
}
