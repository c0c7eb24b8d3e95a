//! Which instruction set the kernels' loops run on, chosen once at run time.
//!
//! The default build targets baseline x86-64 (SSE2), so a kernel's plain-Rust loop is compiled
//! two more times, for AVX2 + FMA and for AVX-512 (`#[target_feature]`), and [`simd_fn!`]
//! writes the function that picks one per call from [`isa`]. The loops are written so the
//! compiler vectorises them without reordering any floating-point operation (partial sums are
//! explicit arrays), so all three builds give the same bits; only the speed differs.
//!
//! `HICO_KERNEL_ISA=avx2` or `=baseline` caps the choice (read once per process): benches use
//! it to measure one build against another in the same run.

use std::sync::OnceLock;

/// An instruction set the kernels are compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Isa {
    /// x86-64's baseline (SSE2), or any other architecture.
    Baseline,
    /// AVX2 and FMA (x86-64-v3).
    Avx2,
    /// AVX-512 F/VL/BW/DQ with AVX2 and FMA (x86-64-v4).
    Avx512,
}

impl Isa {
    /// The name `HICO_KERNEL_ISA` takes.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }
}

/// The best instruction set this CPU runs, capped by `HICO_KERNEL_ISA` when set.
///
/// # Panics
/// If `HICO_KERNEL_ISA` names no [`Isa`].
pub fn isa() -> Isa {
    static CHOSEN: OnceLock<Isa> = OnceLock::new();
    *CHOSEN.get_or_init(|| {
        let cap = std::env::var("HICO_KERNEL_ISA").ok().map(|v| {
            [Isa::Baseline, Isa::Avx2, Isa::Avx512]
                .into_iter()
                .find(|i| i.name() == v)
                .unwrap_or_else(|| {
                    panic!("HICO_KERNEL_ISA={v:?}: expected baseline, avx2 or avx512")
                })
        });
        detected().min(cap.unwrap_or(Isa::Avx512))
    })
}

/// What the CPU runs.
fn detected() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq") {
            return Isa::Avx512;
        }
        if has!("avx2") && has!("fma") {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// `fn name(args) -> T { body(args) }`, with `body` (an `#[inline(always)]` function of plain
/// loops) compiled for each [`Isa`] and the best one the CPU runs called ([`isa`]). By
/// convention the body of `name` is `name_body`.
///
/// ```ignore
/// simd_fn!(fn exp_rows(row: &mut [f32], shift: f32) -> f32 => exp_rows_body);
/// ```
macro_rules! simd_fn {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)?
        => $body:path) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                match $crate::simd::isa() {
                    // SAFETY: `isa` answers Avx512 only when the CPU has these features.
                    $crate::simd::Isa::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: `isa` answers Avx2 only when the CPU has AVX2 and FMA.
                    $crate::simd::Isa::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Isa::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use simd_fn;

#[cfg(test)]
mod tests {
    use super::*;

    #[inline(always)]
    fn sum_body(x: &[f32]) -> f32 {
        let mut acc = [0.0f32; 16];
        let mut chunks = x.chunks_exact(16);
        for c in &mut chunks {
            for (a, v) in acc.iter_mut().zip(c) {
                *a += v * v;
            }
        }
        acc.iter().sum::<f32>() + chunks.remainder().iter().map(|v| v * v).sum::<f32>()
    }

    /// The exp kernel's body on a copy of `x`: the new values' bits and their sum's.
    #[inline(always)]
    fn exp_body(x: &[f32]) -> (Vec<u32>, u32) {
        let mut row = x.to_vec();
        let sum = super::super::exp::exp_shift_sum_body(&mut row, 0.25);
        (row.iter().map(|v| v.to_bits()).collect(), sum.to_bits())
    }

    simd_fn!(fn sum_best(x: &[f32]) -> f32 => sum_body);

    /// `$body(x)` from the baseline build and from each build this CPU runs (the body is
    /// inlined into each, as in `simd_fn!`).
    macro_rules! every_build {
        ($body:path, $x:expr, $t:ty) => {{
            let x: &[f32] = $x;
            let mut out: Vec<$t> = vec![$body(x)];
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn v3(x: &[f32]) -> $t {
                    $body(x)
                }
                #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
                fn v4(x: &[f32]) -> $t {
                    $body(x)
                }
                if detected() >= Isa::Avx2 {
                    // SAFETY: the CPU has the features (checked just above).
                    out.push(unsafe { v3(x) });
                }
                if detected() == Isa::Avx512 {
                    // SAFETY: as above.
                    out.push(unsafe { v4(x) });
                }
            }
            out
        }};
    }

    #[test]
    fn every_build_gives_the_same_bits() {
        let x: Vec<f32> = (0..1000)
            .map(|i| ((i * 37) % 101) as f32 * 0.013 - 0.6)
            .collect();
        let want = sum_body(&x);
        assert_eq!(sum_best(&x).to_bits(), want.to_bits());
        for got in every_build!(sum_body, &x, f32) {
            assert_eq!(got.to_bits(), want.to_bits());
        }
        let xs: Vec<f32> = (0..1001).map(|i| -80.0 + i as f32 * 0.0837).collect();
        let builds = every_build!(exp_body, &xs, (Vec<u32>, u32));
        assert!(
            builds.iter().all(|b| *b == builds[0]),
            "exp differs between builds"
        );
    }

    #[test]
    fn the_choice_is_one_the_cpu_runs() {
        assert!(isa() <= detected());
    }
}
