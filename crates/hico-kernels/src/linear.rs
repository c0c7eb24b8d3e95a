//! Matrix products into a fresh buffer, for the linear layers: `y = a · b (+ bias)` by one
//! call of the gemm crate (the product burn's flex backend runs too) on strided operands.
//!
//! burn-flex 0.21's matmul allocates its output as a zeroed byte vector and then, to meet
//! its buffers' 16-byte alignment rule, copies it into a second allocation (its
//! `FlexTensor::empty`): two passes over every product's output before the product writes
//! it. Here the output is written once: left uninitialised for the product to overwrite, or
//! filled with the bias rows for the product to add to (issue #17, session 12;
//! docs/performance.md).

use super::split::static_vec;

pub use super::view::Mat;

/// Products below this many multiply-adds run on the calling thread (burn-flex's rule).
const PARALLEL_MACS: usize = 192 * 192 * 192;

/// `a · b`, plus `bias` on every row when given; returns `[m, n]` row-major.
///
/// # Panics
/// If the inner sizes differ, a view reaches outside its buffer, or `bias` is not `n` long.
pub fn matmul(a: Mat, b: Mat, bias: Option<&[f32]>) -> Vec<f32> {
    let ([m, k], [k2, n]) = (a.shape, b.shape);
    assert_eq!(k, k2, "matmul: [{m}, {k}] · [{k2}, {n}]");
    a.check("matmul: left");
    b.check("matmul: right");
    if let Some(bias) = bias {
        assert_eq!(
            bias.len(),
            n,
            "matmul: bias of {} for {n} columns",
            bias.len()
        );
    }
    let len = m * n;
    if len == 0 {
        return Vec::new();
    }
    let mut y = match bias {
        // Each row starts as the bias; the product adds to it.
        Some(bias) => static_vec(len, n * (16 * 1024 / n).max(1), |_, rows| {
            rows.chunks_exact_mut(n)
                .for_each(|r| r.copy_from_slice(bias))
        }),
        None if k == 0 => vec![0.0; len],
        None => Vec::with_capacity(len),
    };
    if k == 0 {
        return y;
    }
    let accumulate = bias.is_some();
    let parallelism = if m * n * k >= PARALLEL_MACS {
        gemm::Parallelism::Rayon(0)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: `y` has room for `m · n` values (its capacity, or its length when filled); the
    // views were checked to lie inside their buffers. Without a bias, gemm reads nothing of
    // `y` (`read_dst` false) and writes every one of its `m · n` elements (k > 0), so they
    // are all initialised when the length is set.
    unsafe {
        gemm_into(
            (m, n, k),
            y.as_mut_ptr(),
            accumulate,
            (a.data.as_ptr().add(a.offset), a.strides[0], a.strides[1]),
            (b.data.as_ptr().add(b.offset), b.strides[0], b.strides[1]),
            parallelism,
        );
        if !accumulate {
            y.set_len(len);
        }
    }
    y
}

/// `dst (+)= lhs · rhs` by the gemm crate's kernels for [`super::simd::isa`]
/// ([`super::gemm_isa`]): `dst` `m × n` row-major and dense, `lhs` `m × k`
/// and `rhs` `k × n` with element `(i, j)` at `base + i·rs + j·cs` (`(base, rs, cs)` each);
/// `accumulate` adds to `dst` instead of overwriting it (which then is not read). The one
/// call of gemm behind the linear layers and the attention kernels' tiles.
///
/// # Safety
/// `dst` and every element `lhs` and `rhs` name must be valid for the sizes given.
pub(super) unsafe fn gemm_into(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    accumulate: bool,
    (lhs, lrs, lcs): (*const f32, usize, usize),
    (rhs, rs, cs): (*const f32, usize, usize),
    parallelism: gemm::Parallelism,
) {
    // SAFETY: the caller's contract.
    unsafe {
        super::gemm_isa::gemm_f32(
            (m, n, k),
            dst,
            (n as isize, 1),
            accumulate,
            (lhs, lrs as isize, lcs as isize),
            (rhs, rs as isize, cs as isize),
            parallelism,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attention::tests::values;

    fn reference(a: Mat, b: Mat, bias: Option<&[f32]>) -> Vec<f64> {
        let ([m, k], [_, n]) = (a.shape, b.shape);
        let at =
            |v: &Mat, i: usize, j: usize| v.data[v.offset + i * v.strides[0] + j * v.strides[1]];
        let mut y = vec![0.0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let mut s = bias.map_or(0.0, |b| b[j] as f64);
                for p in 0..k {
                    s += at(&a, i, p) as f64 * at(&b, p, j) as f64;
                }
                y[i * n + j] = s;
            }
        }
        y
    }

    #[test]
    fn strided_and_transposed_operands_with_and_without_bias() {
        // Big enough for the parallel path (m·n·k ≥ 192³) and a small one.
        for (m, k, n) in [(3, 5, 7), (200, 190, 210)] {
            let a = values(m * k + 3, 1);
            let bt = values(n * k, 2); // stored [n, k]: read transposed
            let bias = values(n, 3);
            let va = Mat {
                data: &a,
                offset: 3,
                shape: [m, k],
                strides: [k, 1],
            };
            let vb = Mat {
                data: &bt,
                offset: 0,
                shape: [n, k],
                strides: [k, 1],
            }
            .t();
            for bias in [None, Some(&bias[..])] {
                let got = matmul(va, vb, bias);
                let want = reference(va, vb, bias);
                for (i, (&g, &e)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g as f64 - e).abs() < 1e-4 * (k as f64).sqrt(),
                        "{m}×{k}×{n} y[{i}] = {g}, want {e}"
                    );
                }
            }
        }
    }
}
