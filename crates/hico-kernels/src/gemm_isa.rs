//! The one entry to the `gemm` crate's f32 product, made to depend on the instruction set
//! as little as gemm's kernels allow, and not on the CPU's cache sizes.
//!
//! `gemm::gemm` picks its kernels from the CPU (AVX-512: 16 lanes, 64 × 6 tiles; AVX2 + FMA:
//! 8 lanes, 16 × 6; otherwise scalar), runs small products (at most 256 outputs, both
//! operands contiguous along the sum) through dot-product kernels that keep one partial sum
//! per lane, and, for large products, splits the contraction into blocks of a depth `kc`
//! derived from the L1 cache's size and associativity. Each of these changes the order of
//! the additions, so the same product gave other bits on another CPU, and `HICO_KERNEL_ISA`
//! (which caps hico's own kernels, whose bits do not depend on it) did not reach it. Here:
//! - the kernels are those of [`isa`]: gemm's AVX-512, AVX2 + FMA or scalar microkernels,
//!   through gemm's own driver (`gemm_basic_generic`, what `gemm::gemm` calls), so
//!   `HICO_KERNEL_ISA=avx2` on an AVX-512 machine runs an AVX2 machine's kernels;
//! - the dot-product kernels are left out (every product runs the tiled microkernels, which
//!   add along the sum in order, one fused multiply-add per step, whatever the lane count);
//! - products that take gemm's cache-blocked path (`m` or `n` over 64, depth `k` over 512)
//!   are cut here into `⌈k / 512⌉` even contraction blocks, the rule gemm applies with its
//!   AVX-512 tiles on any L1 of at most 16 ways (and with its AVX2 tiles on an 8-way L1, but
//!   1,024-deep blocks on a 12-way one), accumulated block after block, so gemm never blocks
//!   by the cache it finds.
//!
//! So the AVX-512 and AVX2 kernels give the same bits (`tests/gemm_isa.rs`), and the AVX-512
//! path gives `gemm::gemm`'s bits except on the small products gemm would have run through
//! its dot-product kernels. Still ISA-dependent: gemm's vector kernels (a product with one
//! row or one column, on some strides, and sums of depth ≤ 2), and the scalar kernels
//! (`baseline`), which round the product and the sum separately.

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
/// products: blocks of 512) or its vector kernels take it.
fn block(isa: Isa, m: usize, n: usize, k: usize, lhs_cs: isize, rhs_rs: isize) -> Option<usize> {
    let _ = (isa, lhs_cs, rhs_rs);
    let small = m <= 64 && n <= 64;
    if k <= 512 || m <= 1 || n <= 1 || small {
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
            use gemm_common::microkernel::HMicroKernelFn;
            use gemm_f32::microkernel::$module::f32::{MR_DIV_N, NR, UKR};
            // No dot-product kernels: their partial sums depend on the lane count.
            const NO_DOT: [[HMicroKernelFn<f32>; 0]; 0] = [];
            let simd = <$simd as MixedSimd<f32, f32, f32, f32>>::try_new()
                .expect("HICO_KERNEL_ISA names an instruction set this CPU runs");
            // SAFETY: the caller's contract; the CPU runs the kernels (checked just above).
            unsafe {
                gemm_basic_generic::<_, f32, $lanes, { MR_DIV_N * $lanes }, NR, MR_DIV_N, 0, 0>(
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
                    &NO_DOT,
                    false,
                    parallelism,
                )
            }
        }};
    }
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => generic!(gemm_common::simd::V4, avx512f, 16),
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => generic!(gemm_common::simd::V3, fma, 8),
        #[cfg(target_arch = "x86_64")]
        Isa::Baseline => generic!(gemm_common::simd::Scalar, scalar, 1),
        // Other architectures: gemm's own choice.
        #[allow(unreachable_patterns)]
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
