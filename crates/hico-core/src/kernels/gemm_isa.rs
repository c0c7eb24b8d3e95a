//! The one entry to the `gemm` crate's f32 product, made to depend on the instruction set
//! only through [`isa`] and not on the CPU's cache sizes.
//!
//! `gemm::gemm` picks its kernels from the CPU (AVX-512: 16 lanes, 64 × 6 tiles; AVX2 + FMA:
//! 8 lanes, 16 × 6; otherwise scalar) and, for large products, splits the contraction into
//! blocks of a depth `kc` derived from the L1 cache's size and associativity. Both change
//! the order of the additions, so the same product gave other bits on another CPU, and
//! `HICO_KERNEL_ISA` (which caps hico's own kernels, whose bits do not depend on it) did not
//! reach it. Here:
//! - the kernels are those of [`isa`]: `avx512` calls `gemm::gemm` (its own choice, AVX-512 on
//!   such a CPU), `avx2` and `baseline` call gemm's generic driver with its AVX2 + FMA or
//!   scalar kernels, exactly as `gemm::gemm` does on a CPU without AVX-512 (or without
//!   AVX2), so `HICO_KERNEL_ISA=avx2` on an AVX-512 machine runs an AVX2 machine's kernels;
//! - products that take gemm's cache-blocked path (`m` or `n` over 64, depth `k` over 512)
//!   are cut here into `⌈k / 512⌉` even contraction blocks, the rule gemm applies with its
//!   AVX-512 tiles on any L1 of at most 16 ways (and with its AVX2 tiles on an 8-way L1, but
//!   1,024-deep blocks on a 12-way one), accumulated block after block, so gemm never blocks
//!   by the cache it finds.
//!
//! On the AVX-512 machines the project measures on, this gives the bits `gemm::gemm` gave
//! (tests below); across instruction sets the bits still differ where gemm's kernels
//! themselves do (dot-product kernels of small products; `tests/gemm_isa.rs`).

use gemm::Parallelism;
use gemm_common::gemm::gemm_basic_generic;
use gemm_common::simd::MixedSimd;

use super::simd::{Isa, isa};

/// `dst (+)= lhs · rhs` in f32 with gemm's kernels for `isa()`: `dst` `m × n` with strides
/// `(dst_rs, dst_cs)` (positive), `lhs` `m × k`, `rhs` `k × n` likewise; `read_dst`: add
/// to `dst` (`alpha = 1`) instead of overwriting it.
///
/// # Safety
/// `dst` and every element `lhs` and `rhs` name must be valid for the sizes and strides.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_f32(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): (isize, isize),
    read_dst: bool,
    (lhs, lhs_rs, lhs_cs): (*const f32, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
    parallelism: Parallelism,
) {
    // SAFETY: the caller's contract.
    unsafe {
        gemm_with(
            isa(),
            (m, n, k),
            dst,
            (dst_rs, dst_cs),
            read_dst,
            (lhs, lhs_rs, lhs_cs),
            (rhs, rhs_rs, rhs_cs),
            parallelism,
        )
    }
}

/// [`gemm_f32`] with the kernels of `isa` (which the CPU must run).
///
/// # Safety
/// As [`gemm_f32`]; and the CPU runs `isa`.
#[doc(hidden)]
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_with(
    isa: Isa,
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): (isize, isize),
    read_dst: bool,
    (lhs, lhs_rs, lhs_cs): (*const f32, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
    parallelism: Parallelism,
) {
    // gemm::gemm computes a row-major destination as the transposed product (its kernels
    // prefer column-major output); do the same so every path sees the same problem.
    let (m, n, dst_rs, dst_cs, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs) =
        if dst_cs.abs() < dst_rs.abs() {
            (
                n, m, dst_cs, dst_rs, rhs, rhs_cs, rhs_rs, lhs, lhs_cs, lhs_rs,
            )
        } else {
            (
                m, n, dst_rs, dst_cs, lhs, lhs_rs, lhs_cs, rhs, rhs_rs, rhs_cs,
            )
        };
    let call = |k0: usize, kb: usize, read: bool| {
        // SAFETY: block `k0..k0 + kb` of the contraction lies inside the caller's buffers.
        unsafe {
            let (l, r) = (
                lhs.wrapping_offset(k0 as isize * lhs_cs),
                rhs.wrapping_offset(k0 as isize * rhs_rs),
            );
            kernels(
                isa,
                (m, n, kb),
                dst,
                (dst_rs, dst_cs),
                read,
                (l, lhs_rs, lhs_cs),
                (r, rhs_rs, rhs_cs),
                parallelism,
            )
        }
    };
    match block(isa, m, n, k, lhs_cs, rhs_rs) {
        None => call(0, k, read_dst),
        Some(kc) => {
            let mut k0 = 0;
            while k0 < k {
                let kb = kc.min(k - k0);
                call(k0, kb, read_dst || k0 > 0);
                k0 += kb;
            }
        }
    }
}

/// The contraction block of a product (already in gemm's orientation) that would take
/// gemm's blocked path with a cache-derived depth (`m` or `n` over 64, depth over 512), else
/// `None`: one call, because the depth fits one block, or gemm blocks it by no cache (small
/// products: blocks of 512) or its dot-product or vector kernels take it.
fn block(isa: Isa, m: usize, n: usize, k: usize, lhs_cs: isize, rhs_rs: isize) -> Option<usize> {
    // The scalar kernels have no dot-product kernel.
    let dot = isa != Isa::Baseline && lhs_cs == 1 && rhs_rs == 1 && m * n <= 16 * 16;
    let small = m <= 64 && n <= 64;
    if k <= 512 || m <= 1 || n <= 1 || dot || small {
        return None;
    }
    Some(k.div_ceil(k.div_ceil(512)))
}

/// One call of gemm's driver with the kernels of `isa`.
///
/// # Safety
/// As [`gemm_with`].
#[allow(clippy::too_many_arguments)]
unsafe fn kernels(
    isa: Isa,
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    (dst_rs, dst_cs): (isize, isize),
    read_dst: bool,
    (lhs, lhs_rs, lhs_cs): (*const f32, isize, isize),
    (rhs, rhs_rs, rhs_cs): (*const f32, isize, isize),
    parallelism: Parallelism,
) {
    let alpha = if read_dst { 1.0 } else { 0.0 };
    macro_rules! generic {
        ($simd:ty, $module:ident, $lanes:expr) => {{
            use gemm_f32::microkernel::$module::f32::{H_M, H_N, H_UKR, MR_DIV_N, NR, UKR};
            let simd = <$simd as MixedSimd<f32, f32, f32, f32>>::try_new()
                .expect("HICO_KERNEL_ISA names an instruction set this CPU runs");
            // SAFETY: the caller's contract; the CPU runs the kernels (checked just above).
            unsafe {
                gemm_basic_generic::<_, f32, $lanes, { MR_DIV_N * $lanes }, NR, MR_DIV_N, H_M, H_N>(
                    simd,
                    m,
                    n,
                    k,
                    dst,
                    dst_cs,
                    dst_rs,
                    read_dst,
                    lhs,
                    lhs_cs,
                    lhs_rs,
                    rhs,
                    rhs_cs,
                    rhs_rs,
                    alpha,
                    1.0,
                    false,
                    false,
                    false,
                    |a, b, c| a * b + c,
                    &UKR,
                    &H_UKR,
                    false,
                    parallelism,
                )
            }
        }};
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => generic!(gemm_common::simd::V3, fma, 8),
        #[cfg(target_arch = "x86_64")]
        Isa::Baseline => generic!(gemm_common::simd::Scalar, scalar, 1),
        // SAFETY: the caller's contract.
        _ => unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst,
                dst_cs,
                dst_rs,
                read_dst,
                lhs,
                lhs_cs,
                lhs_rs,
                rhs,
                rhs_cs,
                rhs_rs,
                alpha,
                1.0,
                false,
                false,
                false,
                parallelism,
            )
        },
    }
}
