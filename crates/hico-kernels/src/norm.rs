//! RMSNorm (the LLM's norms) forward and backward in one pass over the rows each.
//!
//! Per row of width `d`: `r = 1 / √(mean(x²) + ε)`, `y = x · r · γ`. burn's `RmsNorm` is five
//! ops (square, mean, add, sqrt, divide) and the scale by `γ`; under autodiff each is a tracked
//! op with its own saved tensor and backward pass. The backward here reads `x`, `γ`, the
//! saved `r` per row and `dy`: with `x̂ = x·r` and `g = γ·dy`,
//! `dx = r · (g − x̂ · mean(g · x̂))` and `dγ = Σ_rows dy · x̂`.
//!
//! Rows are split over rayon's pool in fixed blocks of rows, and `dγ`'s per-block partial sums
//! are added in block order, so the result does not depend on the thread count or on how the
//! pool scheduled the blocks (training stays deterministic).

use rayon::prelude::*;

use super::simd::simd_fn;

/// Elements per parallel task (about 64 KiB of each input).
const BLOCK: usize = 16 * 1024;

/// Rows per task for rows of width `d`.
fn rows_per_task(d: usize) -> usize {
    (BLOCK / d.max(1)).max(1)
}

/// `values` and `other` (outputs or gradients) are each `rows` rows of `d > 0`.
fn check_rows(what: &str, values: usize, other: usize, rows: usize, d: usize) {
    assert!(
        d > 0 && values == other && values == rows * d,
        "{what}: {values} values, {other} outputs / gradients, {rows} rows of {d}"
    );
}

#[inline(always)]
fn forward_row(x: &[f32], gamma: &[f32], eps: f32, y: &mut [f32]) -> f32 {
    let ss: f32 = x.iter().map(|v| v * v).sum();
    let r = 1.0 / (ss / x.len() as f32 + eps).sqrt();
    for ((o, &v), &g) in y.iter_mut().zip(x).zip(gamma) {
        *o = v * r * g;
    }
    r
}

#[inline(always)]
fn forward_block_body(x: &[f32], gamma: &[f32], eps: f32, y: &mut [f32], r: &mut [f32]) {
    let d = gamma.len();
    for ((x, y), r) in x.chunks_exact(d).zip(y.chunks_exact_mut(d)).zip(r) {
        *r = forward_row(x, gamma, eps, y);
    }
}

/// One block of rows' `dx`, and its `dγ` partial sum added to `dgamma`.
#[inline(always)]
fn backward_block_body(
    x: &[f32],
    gamma: &[f32],
    r: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
) {
    let d = gamma.len();
    let rows = x.chunks_exact(d).zip(dy.chunks_exact(d));
    for (((x, dy), dx), &r) in rows.zip(dx.chunks_exact_mut(d)).zip(r) {
        let mut dot = 0.0f32;
        for ((&v, &g), &e) in x.iter().zip(gamma).zip(dy) {
            dot += g * e * v;
        }
        // mean(g·x̂) = r · Σ γ·dy·x / d
        let c = dot * r * r / d as f32;
        for ((((o, &v), &g), &e), dg) in dx.iter_mut().zip(x).zip(gamma).zip(dy).zip(&mut *dgamma) {
            *o = r * (g * e - v * c);
            *dg += e * v * r;
        }
    }
}

simd_fn!(fn forward_block(x: &[f32], gamma: &[f32], eps: f32, y: &mut [f32], r: &mut [f32])
    => forward_block_body);
simd_fn!(fn backward_block(
    x: &[f32],
    gamma: &[f32],
    r: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    dgamma: &mut [f32],
) => backward_block_body);

/// `y = x · r · γ` per row of width `γ.len()`, with `r = 1 / √(mean(x²) + ε)` per row written
/// to `r`.
///
/// # Panics
/// If `x` and `y` differ in length, or it is not `r.len()` rows of `γ.len()`.
pub fn rms_norm(x: &[f32], gamma: &[f32], eps: f32, y: &mut [f32], r: &mut [f32]) {
    let d = gamma.len();
    check_rows("rms_norm", x.len(), y.len(), r.len(), d);
    let rows = rows_per_task(d);
    y.par_chunks_mut(rows * d)
        .zip(r.par_chunks_mut(rows))
        .zip(x.par_chunks(rows * d))
        .for_each(|((y, r), x)| forward_block(x, gamma, eps, y, r));
}

/// The gradients `(dx, dγ)` of [`rms_norm`] for the output gradient `dy`, from the input
/// `x`, `γ` and the forward's per-row `r`.
///
/// # Panics
/// If the lengths disagree as in [`rms_norm`].
pub fn rms_norm_grad(x: &[f32], gamma: &[f32], r: &[f32], dy: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let d = gamma.len();
    check_rows("rms_norm_grad", x.len(), dy.len(), r.len(), d);
    let rows = rows_per_task(d);
    let mut dx = vec![0.0f32; x.len()];
    let partials: Vec<Vec<f32>> = dx
        .par_chunks_mut(rows * d)
        .zip(x.par_chunks(rows * d).zip(dy.par_chunks(rows * d)))
        .zip(r.par_chunks(rows))
        .map(|((dx, (x, dy)), r)| {
            let mut dg = vec![0.0f32; d];
            backward_block(x, gamma, r, dy, dx, &mut dg);
            dg
        })
        .collect();
    let mut dgamma = vec![0.0f32; d];
    for p in &partials {
        for (a, b) in dgamma.iter_mut().zip(p) {
            *a += b;
        }
    }
    (dx, dgamma)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::tests::values;
    use crate::on_threads;

    /// `y` and `r` in f64 by the definition.
    fn forward64(x: &[f32], gamma: &[f32], eps: f64) -> (Vec<f64>, Vec<f64>) {
        let d = gamma.len();
        let (mut y, mut rs) = (vec![], vec![]);
        for row in x.chunks(d) {
            let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / d as f64;
            let r = 1.0 / (ms + eps).sqrt();
            y.extend(
                row.iter()
                    .zip(gamma)
                    .map(|(&v, &g)| v as f64 * r * g as f64),
            );
            rs.push(r);
        }
        (y, rs)
    }

    #[test]
    fn forward_matches_f64_across_task_edges() {
        // 50 rows of 700: several tasks of 23 rows, the last one short.
        let (rows, d) = (50, 700);
        let (x, gamma) = (values(rows * d, 0), values(d, 11));
        let (mut y, mut r) = (vec![f32::NAN; rows * d], vec![f32::NAN; rows]);
        rms_norm(&x, &gamma, 1e-6, &mut y, &mut r);
        let (wy, wr) = forward64(&x, &gamma, 1e-6);
        for (i, (&got, want)) in y.iter().zip(wy).enumerate() {
            assert!(
                (got as f64 - want).abs() <= 1e-5 * want.abs().max(1.0),
                "y[{i}]"
            );
        }
        for (&got, want) in r.iter().zip(wr) {
            assert!((got as f64 - want).abs() <= 1e-6 * want);
        }
    }

    #[test]
    fn backward_matches_central_differences_of_the_f64_forward() {
        let (rows, d) = (5, 24);
        let (x, gamma, dy) = (values(rows * d, 3), values(d, 5), values(rows * d, 9));
        let eps = 1e-6;
        let (mut y, mut r) = (vec![0.0; rows * d], vec![0.0; rows]);
        rms_norm(&x, &gamma, eps as f32, &mut y, &mut r);
        let (dx, dgamma) = rms_norm_grad(&x, &gamma, &r, &dy);
        // loss = Σ dy · y, differentiated numerically in f64.
        let loss = |x: &[f32], gamma: &[f32]| -> f64 {
            let (y, _) = forward64(x, gamma, eps);
            y.iter().zip(&dy).map(|(a, &b)| a * b as f64).sum()
        };
        let h = 1e-3f32;
        for i in 0..x.len() {
            let (mut p, mut m) = (x.clone(), x.clone());
            p[i] += h;
            m[i] -= h;
            let want = (loss(&p, &gamma) - loss(&m, &gamma)) / (p[i] - m[i]) as f64;
            assert!(
                (dx[i] as f64 - want).abs() <= 2e-3 * want.abs().max(1.0),
                "dx[{i}] {} vs {want}",
                dx[i]
            );
        }
        for j in 0..d {
            let (mut p, mut m) = (gamma.clone(), gamma.clone());
            p[j] += h;
            m[j] -= h;
            let want = (loss(&x, &p) - loss(&x, &m)) / (p[j] - m[j]) as f64;
            assert!(
                (dgamma[j] as f64 - want).abs() <= 2e-3 * want.abs().max(1.0),
                "dγ[{j}] {} vs {want}",
                dgamma[j]
            );
        }
    }

    #[test]
    fn dgamma_does_not_depend_on_the_thread_count() {
        let (rows, d) = (300, 256);
        let (x, gamma, dy) = (values(rows * d, 1), values(d, 2), values(rows * d, 4));
        let (mut y, mut r) = (vec![0.0; rows * d], vec![0.0; rows]);
        rms_norm(&x, &gamma, 1e-6, &mut y, &mut r);
        let on = |threads| on_threads(threads, || rms_norm_grad(&x, &gamma, &r, &dy));
        let (a, b) = (on(1), on(3));
        assert!(
            a.0 == b.0 && a.1 == b.1,
            "results differ between 1 and 3 threads"
        );
    }
}
