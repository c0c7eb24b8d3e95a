//! hico's matrix products by instruction set (`hico_kernels::gemm_isa`), on the
//! product shapes of the tiny models' training and scoring:
//! - with the AVX-512 kernels they give the bits of `gemm::gemm` (which picks AVX-512 on
//!   such a CPU) wherever gemm runs its tiled kernels; the small products gemm would run
//!   through its dot-product kernels (`m · n ≤ 256` with both operands contiguous along the
//!   sum: one partial sum per lane, 8 with AVX2 against 16) take the tiled kernels instead;
//! - so the AVX2 kernels give the same bits as the AVX-512 ones on every shape below,
//!   which is what docs/reliability.md states; `gemm::gemm`'s own dot-product kernels do not.
//!
//! Needs an AVX-512 CPU to compare (passes vacuously elsewhere).

#![cfg(target_arch = "x86_64")]

use hico_kernels::gemm_isa::gemm_with;
use hico_kernels::simd::Isa;

/// Pseudo-random values in [-1, 1) from a fixed LCG.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A shape: `dst[m, n] (row-major) = lhs[m, k] (row-major) · rhs`, `rhs` row-major `[k, n]`
/// or the transpose of a row-major `[n, k]` (a linear layer's weight).
#[derive(Debug, Clone, Copy)]
struct Shape(&'static str, usize, usize, usize, bool);

/// The product's bits with hico's path for `isa` (`None`) or with `gemm::gemm` itself.
fn product(Shape(_, m, n, k, t): Shape, isa: Option<Isa>) -> Vec<u32> {
    let (lhs, rhs) = (values(m * k, 1), values(k * n, 2));
    let mut dst = vec![0f32; m * n];
    let (rhs_rs, rhs_cs) = if t { (1, k as isize) } else { (n as isize, 1) };
    // SAFETY: the pointers and strides describe the three buffers above; the CPU runs the
    // kernels asked for (checked by the caller).
    unsafe {
        match isa {
            Some(isa) => gemm_with(
                isa,
                (m, n, k),
                dst.as_mut_ptr(),
                (n as isize, 1),
                false,
                (lhs.as_ptr(), k as isize, 1),
                (rhs.as_ptr(), rhs_rs, rhs_cs),
                gemm::Parallelism::None,
            ),
            None => gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                false,
                lhs.as_ptr(),
                1,
                k as isize,
                rhs.as_ptr(),
                rhs_cs,
                rhs_rs,
                0.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            ),
        }
    }
    dst.iter().map(|v| v.to_bits()).collect()
}

fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512vl")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq")
}

/// Products gemm runs through its blocked path: a linear layer's forward, its input
/// gradient, its weight gradient (the contraction over the batch's rows, over 512 deep) and
/// attention's tiles.
const BLOCKED: [Shape; 5] = [
    Shape("linear forward 1024×64 · 64→128", 1024, 128, 64, true),
    Shape("input gradient 1024×128 · 128→64", 1024, 64, 128, false),
    Shape("weight gradient 64×1200 · 1200→128", 64, 128, 1200, false),
    Shape("weight gradient 128×2500 · 2500→64", 128, 64, 2500, false),
    Shape("attention tile 300×16 · 16→300", 300, 300, 16, true),
];

/// Products gemm runs through its dot-product kernels.
const DOT: [Shape; 2] = [
    Shape("block 8×16 · 64", 8, 16, 64, true),
    Shape(
        "row 1×64 · 64→128 (rows of a transposed weight)",
        2,
        100,
        64,
        true,
    ),
];

#[test]
fn the_avx512_path_is_gemms_own() {
    if !has_avx512() {
        eprintln!("no AVX-512 on this CPU: nothing to compare");
        return;
    }
    let more = [
        Shape("deep small 32×1500 · 1500→48", 32, 48, 1500, false),
        Shape("deep wide 700×777 · 777→90", 700, 90, 777, true),
    ];
    for s in BLOCKED.iter().chain(&more) {
        assert_eq!(
            product(*s, Some(Isa::Avx512)),
            product(*s, None),
            "{}: hico's AVX-512 path differs from gemm::gemm",
            s.0
        );
    }
}

#[test]
fn avx2_and_avx512_kernels_agree_where_gemms_own_dot_kernels_do_not() {
    if !has_avx512() {
        eprintln!("no AVX-512 on this CPU: nothing to compare");
        return;
    }
    let same = |s: Shape, a: Option<Isa>, b: Option<Isa>| {
        let (x, y) = (product(s, a), product(s, b));
        let n = x.iter().zip(&y).filter(|(p, q)| p == q).count();
        println!(
            "{} ({a:?} vs {b:?}): {n}/{} elements with the same bits",
            s.0,
            x.len()
        );
        n == x.len()
    };
    for s in BLOCKED.iter().chain(&DOT) {
        assert!(
            same(*s, Some(Isa::Avx2), Some(Isa::Avx512)),
            "{}: AVX2 and AVX-512 kernels differ",
            s.0
        );
    }
    // gemm::gemm runs these through its dot-product kernels, 16 partial sums each: other
    // bits than the tiled kernels' (so than an AVX2 CPU's).
    for s in DOT {
        assert!(
            !same(s, Some(Isa::Avx512), None),
            "{}: gemm's dot-product kernels now agree with the tiled ones",
            s.0
        );
    }
    // The scalar kernels (HICO_KERNEL_ISA=baseline) run too.
    let s = BLOCKED[0];
    assert_eq!(product(s, Some(Isa::Baseline)).len(), s.1 * s.2);
}
