//! The MLP activations in one vectorised pass each: SwiGLU's `silu(gate) · up` (the LLM's
//! MLP) and the exact (erf) GELU (the vision encoder's and the connector's MLP).
//!
//! Composed from burn ops these are two to three passes with a fresh buffer each, and their
//! transcendental functions are libm's scalar `expf` / `erff` (4.4 % of the encoder's samples
//! at 224 px were `erff`, docs/performance.md). Here `exp` is [`super::exp`]'s polynomial and
//! `erf` the Abramowitz-Stegun formula 7.1.26 built on it:
//!
//! `erf(x) = 1 − (a1·t + a2·t² + a3·t³ + a4·t⁴ + a5·t⁵)·e^(−x²)`, `t = 1 / (1 + p·x)`, `x ≥ 0`,
//! `erf(−x) = −erf(x)`, with `p = 0.3275911`, `a1..a5 = 0.254829592, −0.284496736,
//! 1.421413741, −1.453152027, 1.061405429` (Abramowitz & Stegun, *Handbook of Mathematical
//! Functions*, 1964, eq. 7.1.26: absolute error ≤ 1.5e-7). GELU's error is then at most
//! `0.5·|x|·1.5e-7` plus `f32` rounding; the tests bound both kernels against `f64`.
//!
//! Their backward passes (training on the CPU, `autodiff.rs`) are one pass each as well:
//! with `s = sigmoid(g)`, `d silu(g)·u / dg = u·s·(1 + g·(1 − s))` and `/ du = g·s`; with
//! `Φ(x) = (1 + erf(x/√2)) / 2` and `φ(x) = e^(−x²/2) / √(2π)`, `d gelu(x) / dx = Φ(x) + x·φ(x)`.
//!
//! Work is split over rayon's pool in blocks of [`BLOCK`] elements; each block runs the AVX2 +
//! FMA build of the loop when the CPU has them (chosen at run time, as in [`super::exp`]).

use rayon::prelude::*;

use super::exp::exp1;
use super::simd::simd_fn;

/// Elements per parallel task (64 KiB of output).
const BLOCK: usize = 16 * 1024;

#[inline(always)]
fn silu_mul1(g: f32, u: f32) -> f32 {
    // g · sigmoid(g) · u; exp1 clamps, so a very negative g gives g / (1 + 2^127) → −0.
    g * u / (1.0 + exp1(-g))
}

#[inline(always)]
fn erf1(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let p = 1.061_405_4_f32;
    let p = p * t - 1.453_152_1;
    let p = p * t + 1.421_413_8;
    let p = p * t - 0.284_496_74;
    let p = p * t + 0.254_829_6;
    let y = 1.0 - p * t * exp1(-a * a);
    y.copysign(x)
}

#[inline(always)]
fn gelu1(x: f32) -> f32 {
    0.5 * x * (1.0 + erf1(x * std::f32::consts::FRAC_1_SQRT_2))
}

/// `(dg, du)` of `silu(g)·u` for the incoming gradient `dy`.
#[inline(always)]
fn silu_mul_grad1(g: f32, u: f32, dy: f32) -> (f32, f32) {
    let s = 1.0 / (1.0 + exp1(-g));
    let gs = g * s;
    (dy * u * (s + gs * (1.0 - s)), dy * gs)
}

#[inline(always)]
fn gelu_grad1(x: f32, dy: f32) -> f32 {
    let cdf = 0.5 * (1.0 + erf1(x * std::f32::consts::FRAC_1_SQRT_2));
    // 1 / √(2π)
    let pdf = 0.398_942_3 * exp1(-0.5 * x * x);
    dy * (cdf + x * pdf)
}

#[inline(always)]
fn silu_mul_grad_body(g: &[f32], u: &[f32], dy: &[f32], dg: &mut [f32], du: &mut [f32]) {
    let outs = dg.iter_mut().zip(du.iter_mut());
    for (((a, b), &g), (&u, &d)) in outs.zip(g).zip(u.iter().zip(dy)) {
        (*a, *b) = silu_mul_grad1(g, u, d);
    }
}

#[inline(always)]
fn gelu_grad_body(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    for ((o, &v), &d) in dx.iter_mut().zip(x).zip(dy) {
        *o = gelu_grad1(v, d);
    }
}

simd_fn!(fn silu_mul_grad_block(g: &[f32], u: &[f32], dy: &[f32], dg: &mut [f32], du: &mut [f32])
    => silu_mul_grad_body);
simd_fn!(fn gelu_grad_block(x: &[f32], dy: &[f32], dx: &mut [f32]) => gelu_grad_body);

#[inline(always)]
fn silu_mul_body(gate: &[f32], up: &[f32], out: &mut [f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        *o = silu_mul1(g, u);
    }
}

#[inline(always)]
fn gelu_body(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = gelu1(v);
    }
}

simd_fn!(fn silu_mul_block(gate: &[f32], up: &[f32], out: &mut [f32]) => silu_mul_body);
simd_fn!(fn gelu_block(x: &[f32], out: &mut [f32]) => gelu_body);

/// `silu(gate[i]) · up[i]` for every element (SwiGLU).
///
/// # Panics
/// If the three slices differ in length.
pub fn silu_mul(gate: &[f32], up: &[f32], out: &mut [f32]) {
    assert!(
        gate.len() == up.len() && up.len() == out.len(),
        "silu_mul: lengths differ"
    );
    out.par_chunks_mut(BLOCK)
        .zip(gate.par_chunks(BLOCK).zip(up.par_chunks(BLOCK)))
        .for_each(|(o, (g, u))| silu_mul_block(g, u, o));
}

/// `gelu(x[i])` (the exact, erf form) for every element.
///
/// # Panics
/// If the slices differ in length.
pub fn gelu(x: &[f32], out: &mut [f32]) {
    assert_eq!(x.len(), out.len(), "gelu: lengths differ");
    out.par_chunks_mut(BLOCK)
        .zip(x.par_chunks(BLOCK))
        .for_each(|(o, x)| gelu_block(x, o));
}

/// The gradients `(dg, du)` of `silu(gate)·up` ([`silu_mul`]) for the output gradient `dy`.
///
/// # Panics
/// If the five slices differ in length.
pub fn silu_mul_grad(gate: &[f32], up: &[f32], dy: &[f32], dg: &mut [f32], du: &mut [f32]) {
    let n = gate.len();
    assert!(
        [up.len(), dy.len(), dg.len(), du.len()]
            .iter()
            .all(|&m| m == n),
        "silu_mul_grad: lengths differ"
    );
    dg.par_chunks_mut(BLOCK)
        .zip(du.par_chunks_mut(BLOCK))
        .zip(gate.par_chunks(BLOCK).zip(up.par_chunks(BLOCK)))
        .zip(dy.par_chunks(BLOCK))
        .for_each(|(((dg, du), (g, u)), dy)| silu_mul_grad_block(g, u, dy, dg, du));
}

/// The gradient of [`gelu`] at `x` for the output gradient `dy`.
///
/// # Panics
/// If the slices differ in length.
pub fn gelu_grad(x: &[f32], dy: &[f32], dx: &mut [f32]) {
    assert!(
        x.len() == dy.len() && dy.len() == dx.len(),
        "gelu_grad: lengths differ"
    );
    dx.par_chunks_mut(BLOCK)
        .zip(x.par_chunks(BLOCK).zip(dy.par_chunks(BLOCK)))
        .for_each(|(o, (x, dy))| gelu_grad_block(x, dy, o));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// erf in f64 by its Taylor series (|x| ≤ 3) or its asymptotic complement (beyond): a
    /// reference independent of the formula under test.
    fn erf64(x: f64) -> f64 {
        let a = x.abs();
        let y = if a <= 3.0 {
            // erf(x) = 2/√π Σ (−1)^n x^(2n+1) / (n! (2n+1))
            let (mut term, mut sum, mut n) = (a, a, 0.0f64);
            while term.abs() > 1e-17 * sum.abs() {
                n += 1.0;
                term *= -a * a / n;
                sum += term / (2.0 * n + 1.0);
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc(x) ≈ e^(−x²)/(x√π) · (1 − 1/(2x²) + 3/(4x⁴) − 15/(8x⁶))
            let z = 1.0 / (2.0 * a * a);
            let series = 1.0 - z + 3.0 * z * z - 15.0 * z * z * z;
            1.0 - (-a * a).exp() / (a * std::f64::consts::PI.sqrt()) * series
        };
        y.copysign(x)
    }

    fn grid() -> Vec<f32> {
        // −12 … 12 in steps of 1/64, the extremes and both zeros.
        let mut v: Vec<f32> = (-768..=768).map(|i| i as f32 / 64.0).collect();
        v.extend([-0.0, f32::MIN_POSITIVE, -1e-30, 60.0, -60.0, 1e4, -1e4]);
        v
    }

    #[test]
    fn erf_is_within_the_formula_bound() {
        for x in grid() {
            let got = erf1(x) as f64;
            let want = erf64(x as f64);
            assert!((got - want).abs() < 3e-7, "erf({x}) = {got}, want {want}");
        }
    }

    #[test]
    fn gelu_matches_f64_over_the_range() {
        let x = grid();
        let mut out = vec![f32::NAN; x.len()];
        gelu(&x, &mut out);
        for (&x, &got) in x.iter().zip(&out) {
            let x64 = x as f64;
            let want = 0.5 * x64 * (1.0 + erf64(x64 / std::f64::consts::SQRT_2));
            let tol = 2e-7 * x64.abs().max(1.0);
            assert!(
                (got as f64 - want).abs() <= tol,
                "gelu({x}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn silu_mul_matches_f64_and_blocks_cover_everything() {
        // Longer than one block, not a multiple of it, so the tasks' edges are exercised.
        let n = BLOCK * 2 + 37;
        let g: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 2001) as f32 / 50.0 - 20.0)
            .collect();
        let u: Vec<f32> = (0..n)
            .map(|i| ((i * 104_729) % 997) as f32 / 100.0 - 5.0)
            .collect();
        let mut out = vec![f32::NAN; n];
        silu_mul(&g, &u, &mut out);
        for i in 0..n {
            let (g64, u64) = (g[i] as f64, u[i] as f64);
            let want = g64 / (1.0 + (-g64).exp()) * u64;
            let tol = 1e-6 * want.abs().max(1e-3);
            assert!(
                (out[i] as f64 - want).abs() <= tol,
                "silu({})·{} = {}, want {want}",
                g[i],
                u[i],
                out[i]
            );
        }
        let mut huge = [0.0f32; 2];
        silu_mul(&[-1e4, 1e4], &[1.0, 1.0], &mut huge);
        assert!(
            huge[0] <= 0.0 && huge[0] > -1e-30,
            "silu(-1e4) = {}",
            huge[0]
        );
        assert_eq!(huge[1], 1e4);
    }

    #[test]
    fn gradients_match_f64_derivatives() {
        let x = grid();
        let n = x.len();
        let u: Vec<f32> = (0..n).map(|i| ((i * 37) % 19) as f32 / 4.0 - 2.0).collect();
        let dy: Vec<f32> = (0..n).map(|i| ((i * 53) % 23) as f32 / 8.0 - 1.4).collect();
        let (mut dg, mut du, mut dx) = (vec![f32::NAN; n], vec![f32::NAN; n], vec![f32::NAN; n]);
        silu_mul_grad(&x, &u, &dy, &mut dg, &mut du);
        gelu_grad(&x, &dy, &mut dx);
        for i in 0..n {
            let (g, u, d) = (x[i] as f64, u[i] as f64, dy[i] as f64);
            let s = 1.0 / (1.0 + (-g).exp());
            let want_dg = d * u * s * (1.0 + g * (1.0 - s));
            let want_du = d * g * s;
            let pdf = (-0.5 * g * g).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let cdf = 0.5 * (1.0 + erf64(g / std::f64::consts::SQRT_2));
            let want_dx = d * (cdf + g * pdf);
            for (what, got, want) in [
                ("dg", dg[i], want_dg),
                ("du", du[i], want_du),
                ("dx", dx[i], want_dx),
            ] {
                let tol = 2e-6 * want.abs().max(d.abs()).max(1e-3);
                assert!(
                    (got as f64 - want).abs() <= tol,
                    "{what} at x = {}, u = {u}, dy = {d}: {got}, want {want}",
                    x[i]
                );
            }
        }
    }
}
