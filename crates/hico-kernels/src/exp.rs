//! Vectorised `exp` for softmax rows: a branch-free polynomial that the compiler turns into
//! SIMD code (AVX2 + FMA when the CPU has them, chosen at run time; SSE2 otherwise), in place
//! of libm's scalar `expf` (4-7 % of a prefill's samples before, docs/performance.md).
//!
//! Method (Cephes `expf`): `e^x = 2^n · e^r` with `n = round(x·log2 e)` and
//! `r = x − n·ln 2` (ln 2 split in two parts so `r` stays exact), `e^r` by a degree-6
//! polynomial on `|r| ≤ ln2/2`, and `2^n` built from the exponent bits. Inputs are clamped to
//! `[-87.3, 88.3]` (beyond, `f32` leaves its normal range): relative error below 2e-7 in range.

use super::simd::simd_fn;

/// `1.5 · 2^23`: adding and subtracting it rounds an `f32` to the nearest integer without a
/// branch or a rounding instruction.
const ROUND: f32 = 12_582_912.0;

#[inline(always)]
pub(crate) fn exp1(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.3);
    // t's low mantissa bits hold n = round(x·log2 e) as an integer (the ROUND trick), so
    // both n and 2^n come from bit operations that vectorise (no saturating float → int
    // conversion).
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = n.mul_add(2.121_944_4e-4, n.mul_add(-0.693_359_4, x));
    let r2 = r * r;
    let p = 1.987_569_1e-4_f32;
    let p = p.mul_add(r, 1.398_199_9e-3);
    let p = p.mul_add(r, 8.333_452e-3);
    let p = p.mul_add(r, 4.166_579_6e-2);
    let p = p.mul_add(r, 1.666_666_5e-1);
    let p = p.mul_add(r, 0.5); // Cephes: 5.0000001e-1, which is 0.5 in f32
    let e = p.mul_add(r2, r) + 1.0;
    // 2^n from the exponent field (n is in [-126, 127] after the clamp).
    let n_bits = t.to_bits().wrapping_sub(ROUND.to_bits());
    let two_n = f32::from_bits(n_bits.wrapping_add(127) << 23);
    e * two_n
}

/// `row[i] = exp(row[i] − shift)`; returns the sum of the new values (for kernels that inline
/// it into their own [`simd_fn!`] loops; others call [`exp_shift_sum`]).
#[inline(always)]
pub(super) fn exp_shift_sum_body(row: &mut [f32], shift: f32) -> f32 {
    for v in row.iter_mut() {
        *v = exp1(*v - shift);
    }
    // Eight partial sums so the reduction vectorises too.
    let mut acc = [0.0f32; 8];
    let mut chunks = row.chunks_exact(8);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    acc.iter().sum::<f32>() + tail
}

simd_fn!(
    /// `row[i] = exp(row[i] − shift)` for every element; returns their sum.
    pub fn exp_shift_sum(row: &mut [f32], shift: f32) -> f32 => exp_shift_sum_body
);

/// Lanes of [`row_max`]: four AVX-512 registers, so the running maxima are four independent
/// chains (one 8-lane chain was latency-bound: 0.31 ns per element; docs/performance.md).
const MAX_LANES: usize = 64;

/// The largest element of a non-empty row (NaN-free input: `a > b ? a : b`, one `max`
/// instruction per vector, where `f32::max`'s NaN rule costs a compare and a blend more).
#[inline(always)]
pub fn row_max(row: &[f32]) -> f32 {
    let bigger = |a: f32, b: f32| if b > a { b } else { a };
    let mut acc = [f32::NEG_INFINITY; MAX_LANES];
    let mut chunks = row.chunks_exact(MAX_LANES);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            *a = bigger(*a, v);
        }
    }
    // Folded in halves (vector-wide steps), then the tail.
    let mut width = MAX_LANES;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            acc[l] = bigger(acc[l], acc[l + width]);
        }
    }
    chunks.remainder().iter().fold(acc[0], |m, &v| bigger(m, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_libm_over_the_range_softmax_uses() {
        // Softmax feeds x - max <= 0; check the whole clamp range and a few positives too.
        let mut worst = 0.0f64;
        let xs: Vec<f32> = (0..200_001)
            .map(|i| -87.0 + i as f32 * (87.0 + 20.0) / 200_000.0)
            .collect();
        let mut got = xs.clone();
        let sum = exp_shift_sum(&mut got, 0.0);
        let mut want_sum = 0.0f64;
        for (x, g) in xs.iter().zip(&got) {
            let want = (*x as f64).exp();
            want_sum += want;
            worst = worst.max(((*g as f64) - want).abs() / want);
        }
        assert!(worst < 4e-7, "worst relative error {worst}");
        assert!(((sum as f64) - want_sum).abs() / want_sum < 1e-5);
    }

    #[test]
    fn shift_underflows_to_zero_or_tiny_and_never_nan() {
        let mut row = vec![0.0, -1.0e30, -200.0, 1.0];
        let s = exp_shift_sum(&mut row, 1.0);
        assert!(row.iter().all(|v| v.is_finite() && *v >= 0.0));
        assert!(row[1] < 1e-37 && row[2] < 1e-37);
        assert!((row[3] - 1.0).abs() < 1e-7 && (row[0] - (-1.0f32).exp()).abs() < 1e-7);
        assert!((s - (1.0 + (-1.0f32).exp())).abs() < 1e-6);
    }

    #[test]
    fn row_max_finds_the_largest_at_every_position() {
        // Below, at and above the lanes (64), and a multiple of them plus a tail.
        for n in [1, 7, 8, 9, 33, 63, 64, 65, 200] {
            for at in 0..n {
                let mut row: Vec<f32> = (0..n)
                    .map(|i| -(i as f32) - 1e30 * (i % 3) as f32)
                    .collect();
                row[at] = 5.0;
                assert_eq!(row_max(&row), 5.0);
            }
        }
    }
}
