//! One AdamW step over a parameter in a single pass: the moments, their bias correction, the
//! decoupled weight decay and the update, element by element.
//!
//! burn's `AdamW` composes the same step of about a dozen tensor ops, each a pass over the
//! parameter with a fresh buffer; on the CPU these passes were most of the `scalar_op` and
//! `sqrt` samples of a training step (docs/performance.md). The arithmetic here is burn's,
//! in burn's order and with burn's `f32` roundings (no fused multiply-add), so the two give the
//! same bits (hico-train's optimizer tests compare them):
//!
//! ```text
//! m ← β1·m + (1 − β1)·g          v ← β2·v + (1 − β2)·g²
//! m̂ = m / (1 − β1ᵗ)              v̂ = v / (1 − β2ᵗ)
//! p ← p·(1 − lr·λ) − lr · m̂ / (√v̂ + ε)
//! ```
//!
//! (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019, Algorithm 2, with
//! Adam's bias correction; `t` counts steps from 1.) The first step is the same formula from
//! zero moments.

use rayon::prelude::*;

use super::simd::simd_fn;

/// Elements per parallel task.
const BLOCK: usize = 16 * 1024;

/// The scalars of one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWStep {
    /// Learning rate (`f64`, as burn's `LearningRate`; applied as `f32`).
    pub lr: f64,
    /// First-moment decay β1.
    pub beta_1: f32,
    /// Second-moment decay β2.
    pub beta_2: f32,
    /// ε added to √v̂.
    pub epsilon: f32,
    /// Decoupled weight decay λ (the parameter is scaled by `1 − lr·λ`).
    pub weight_decay: f32,
    /// The step number `t`, from 1.
    pub time: i32,
}

/// Per-element constants of one step.
#[derive(Clone, Copy)]
struct Consts {
    b1: f32,
    c1: f32,
    b2: f32,
    c2: f32,
    bc1: f32,
    bc2: f32,
    eps: f32,
    decay: f32,
    lr: f32,
}

impl AdamWStep {
    fn consts(&self) -> Consts {
        Consts {
            b1: self.beta_1,
            c1: 1.0 - self.beta_1,
            b2: self.beta_2,
            c2: 1.0 - self.beta_2,
            bc1: 1.0 - self.beta_1.powi(self.time),
            bc2: 1.0 - self.beta_2.powi(self.time),
            eps: self.epsilon,
            // burn computes the decay rate in f64 and scales by it as f32.
            decay: (1.0 - self.lr * f64::from(self.weight_decay)) as f32,
            lr: self.lr as f32,
        }
    }
}

#[inline(always)]
fn update_block_body(c: Consts, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32]) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let m1 = *m * c.b1 + g * c.c1;
        let v1 = *v * c.b2 + (g * g) * c.c2;
        *m = m1;
        *v = v1;
        let delta = (m1 / c.bc1) / ((v1 / c.bc2).sqrt() + c.eps);
        *p = *p * c.decay - delta * c.lr;
    }
}

simd_fn!(fn update_block(c: Consts, p: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32])
    => update_block_body);

/// One AdamW step in place: `param`, `m` and `v` are updated from `grad`.
///
/// # Panics
/// If the four slices differ in length.
pub fn adamw_step(step: &AdamWStep, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
    let n = param.len();
    assert!(
        grad.len() == n && m.len() == n && v.len() == n,
        "adamw_step: lengths differ"
    );
    let c = step.consts();
    param
        .par_chunks_mut(BLOCK)
        .zip(grad.par_chunks(BLOCK))
        .zip(m.par_chunks_mut(BLOCK).zip(v.par_chunks_mut(BLOCK)))
        .for_each(|((p, g), (m, v))| update_block(c, p, g, m, v));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The step in f64, written from the formula.
    fn reference(s: &AdamWStep, p: f64, g: f64, m: f64, v: f64) -> (f64, f64, f64) {
        let (b1, b2) = (f64::from(s.beta_1), f64::from(s.beta_2));
        let m = b1 * m + (1.0 - b1) * g;
        let v = b2 * v + (1.0 - b2) * g * g;
        let mh = m / (1.0 - b1.powi(s.time));
        let vh = v / (1.0 - b2.powi(s.time));
        let lr = s.lr;
        let p = p * (1.0 - lr * f64::from(s.weight_decay))
            - lr * mh / (vh.sqrt() + f64::from(s.epsilon));
        (p, m, v)
    }

    #[test]
    fn three_steps_follow_the_formula_over_block_edges() {
        let n = BLOCK * 2 + 37;
        let mut p: Vec<f32> = (0..n)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 40.0)
            .collect();
        let (mut m, mut v) = (vec![0.0f32; n], vec![0.0f32; n]);
        let (mut p64, mut m64, mut v64): (Vec<f64>, Vec<f64>, Vec<f64>) = (
            p.iter().map(|&x| f64::from(x)).collect(),
            vec![0.0; n],
            vec![0.0; n],
        );
        for time in 1..=3 {
            let s = AdamWStep {
                lr: 1e-2,
                beta_1: 0.9,
                beta_2: 0.999,
                epsilon: 1e-8,
                weight_decay: 0.05,
                time,
            };
            let g: Vec<f32> = (0..n)
                .map(|i| (((i + time as usize * 13) * 61 % 97) as f32 - 48.0) / 30.0)
                .collect();
            adamw_step(&s, &mut p, &g, &mut m, &mut v);
            for i in 0..n {
                let (a, b, c) = reference(&s, p64[i], f64::from(g[i]), m64[i], v64[i]);
                (p64[i], m64[i], v64[i]) = (a, b, c);
            }
        }
        for i in 0..n {
            assert!(
                (f64::from(p[i]) - p64[i]).abs() < 1e-5,
                "param {i}: {} vs {}",
                p[i],
                p64[i]
            );
            assert!((f64::from(m[i]) - m64[i]).abs() < 1e-5, "m {i}");
            assert!((f64::from(v[i]) - v64[i]).abs() < 1e-5, "v {i}");
        }
    }

    #[test]
    #[should_panic(expected = "lengths differ")]
    fn mismatched_lengths_are_refused() {
        let s = AdamWStep {
            lr: 1e-3,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            time: 1,
        };
        adamw_step(&s, &mut [0.0; 3], &[0.0; 2], &mut [0.0; 3], &mut [0.0; 3]);
    }
}
