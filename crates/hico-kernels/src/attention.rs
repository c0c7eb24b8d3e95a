//! Softmax attention on `f32` slices for the CPU: `softmax(scale · Q Kᵀ + causal mask) V`,
//! tiled, with an online softmax, never holding an `L × L` score matrix.
//!
//! Work is split into tasks of one batch row × one key/value head × one block of queries,
//! run in parallel on rayon's pool. A task stacks the `g = heads / kv_heads` query heads that
//! share its key head as rows (grouped-query attention without repeating keys), then walks
//! the keys in chunks of [`KEY_CHUNK`]: scores of the chunk by one matrix product (the
//! `gemm` crate's SIMD kernels, the same ones burn's flex backend uses), a running maximum
//! and normaliser per row (FlashAttention's online softmax, exp vectorised in
//! [`super::exp`]), and the chunk's values added into the row accumulators by a second
//! product. Causal tasks stop at their last query's position and mask only the diagonal
//! chunk. Scratch per task: `rows × KEY_CHUNK` scores and `rows × d` accumulators, whatever
//! the sequence length.
//!
//! Inputs are read through their strides (a `[B, L, H, d]` buffer viewed as `[B, H, L, d]`
//! needs no copy); the output is written as `[B, Lq, heads, d]`, the layout the output
//! projection reads.

use rayon::prelude::*;

use super::exp::{exp_shift_sum_body, row_max};
use super::simd::simd_fn;

/// Keys per chunk: the score block of a task is `rows × KEY_CHUNK`.
pub const KEY_CHUNK: usize = 512;
/// Stacked query rows per task (query heads of a group × queries), before rounding.
pub const TASK_ROWS: usize = 256;
/// Most queries in one task (when `heads / kv_heads` is small).
pub const MAX_QUERIES: usize = 256;
// 256 × 512 tiles (PyTorch's flash-attention CPU kernel uses the same): against 128 × 256,
// 8-13 % less time at 8,192 tokens on a Xeon with AVX-512 (docs/performance.md, session 11);
// larger tiles amortise each product's packing and call over more work.
/// Fewest tasks per thread of rayon's pool before the query blocks are halved (down to 32
/// queries): causal tasks differ in cost (a block's keys end at its last query), so a few
/// large ones leave a thread idle at the end. The small shape at 512 tokens (4 query heads
/// over 2 key heads) made 8 tasks of 256 rows on 2 threads and took 1.3 or 2.1 ms run to
/// run with AVX2 kernels; 16 tasks of 128 rows, 1.3-1.5 ms. A row's result does not depend
/// on its block (each output is its own ordered sum), so neither do the bits.
const TASKS_PER_THREAD: usize = 8;

pub use super::view::View4;

/// Which keys each query sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mask {
    /// Every key.
    None,
    /// Query row `i` sits at key position `offset + i` and sees keys `0..=offset + i`.
    Causal {
        /// Position of the first query among the keys.
        offset: usize,
    },
}

/// A raw output pointer shared by tasks that write disjoint elements.
#[derive(Clone, Copy)]
pub(super) struct OutPtr(pub(super) *mut f32);
// SAFETY: tasks write disjoint (batch, query, head) rows of the output (see `attention`).
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// `softmax(scale · Q Kᵀ + mask) V` for every batch row and query head.
///
/// # Shapes
/// - `q`: `[B, heads, Lq, d]`, `k`, `v`: `[B, kv_heads, Lk, d]`, `heads` a multiple of
///   `kv_heads` (query head `j` reads key head `j / (heads / kv_heads)`, as HF's `repeat_kv`);
///   with a causal mask `offset + Lq <= Lk` (keys past the last query are never read)
/// - returns `[B, Lq, heads, d]`, contiguous
pub fn attention(q: View4, k: View4, v: View4, mask: Mask, scale: f32) -> Vec<f32> {
    run(q, k, v, mask, scale, false).0
}

/// [`attention`] and the log-sum-exp of every query row's scaled, masked scores
/// (`lse[b, head, i] = ln Σ_j exp(scale · q_i · k_j)`), which the backward pass
/// ([`super::attention_grad`]) needs to rebuild the softmax without a second normalisation.
///
/// # Shapes
/// As [`attention`]; the second vector is `[B, heads, Lq]`.
pub fn attention_with_lse(
    q: View4,
    k: View4,
    v: View4,
    mask: Mask,
    scale: f32,
) -> (Vec<f32>, Vec<f32>) {
    run(q, k, v, mask, scale, true)
}

/// Both of the above: the log-sum-exp rows only when `with_lse`.
fn run(
    q: View4,
    k: View4,
    v: View4,
    mask: Mask,
    scale: f32,
    with_lse: bool,
) -> (Vec<f32>, Vec<f32>) {
    let [b, heads, lq, d] = q.shape;
    let [kb, kv, lk, kd] = k.shape;
    assert!(
        kb == b && kd == d && v.shape == k.shape,
        "attention: q {:?}, k {:?}, v {:?} do not fit",
        q.shape,
        k.shape,
        v.shape
    );
    assert!(
        kv > 0 && heads % kv == 0,
        "attention: {heads} query heads over {kv} key/value heads"
    );
    if let Mask::Causal { offset } = mask {
        assert!(
            offset + lq <= lk,
            "attention: {lq} queries at offset {offset} need {} keys, have {lk}",
            offset + lq
        );
    }
    q.check("query");
    k.check("key");
    v.check("value");
    let mut out = vec![0.0f32; b * lq * heads * d];
    let mut lse = if with_lse {
        vec![f32::INFINITY; b * heads * lq]
    } else {
        Vec::new()
    };
    if out.is_empty() || lk == 0 {
        return (out, lse);
    }
    let g = heads / kv;
    let mut block = (TASK_ROWS / g).clamp(16, MAX_QUERIES).min(lq);
    let enough = TASKS_PER_THREAD * rayon::current_num_threads();
    while block > 32 && b * kv * lq.div_ceil(block) < enough {
        block = block.div_ceil(2);
    }
    let blocks = lq.div_ceil(block);
    let ptr = OutPtr(out.as_mut_ptr());
    let lse_ptr = with_lse.then_some(OutPtr(lse.as_mut_ptr()));
    (0..b * kv * blocks).into_par_iter().for_each(|t| {
        let (bi, rest) = (t / (kv * blocks), t % (kv * blocks));
        let (h, qi) = (rest / blocks, rest % blocks);
        let q0 = qi * block;
        let nq = block.min(lq - q0);
        let task = Task {
            q,
            k,
            v,
            mask,
            scale,
            bi,
            h,
            g,
            q0,
            nq,
        };
        task.run(ptr, lse_ptr, heads);
    });
    (out, lse)
}

/// `dst (+)= lhs · rhs` on one thread: `dst` `m × n` row-major and dense, `lhs` `m × k` and
/// `rhs` `k × n` with element `(i, j)` at `base + i·rs + j·cs` (`(rs, cs)` their strides);
/// `accumulate` adds to `dst` instead of overwriting it.
///
/// # Safety
/// `dst` and every element `lhs` and `rhs` name must be valid for the sizes given.
pub(super) unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    accumulate: bool,
    lhs: (*const f32, usize, usize),
    rhs: (*const f32, usize, usize),
) {
    // SAFETY: the caller's contract.
    unsafe {
        super::linear::gemm_into(
            (m, n, k),
            dst,
            accumulate,
            lhs,
            rhs,
            gemm::Parallelism::None,
        )
    }
}

/// The keys `k0..k0 + nk` of one chunk as a task's stacked rows see them (the forward's and
/// the backward's): row `r` holds query `q0 + r % nq`.
#[derive(Debug, Clone, Copy)]
pub(super) struct ChunkKeys {
    pub(super) mask: Mask,
    pub(super) q0: usize,
    pub(super) nq: usize,
    pub(super) k0: usize,
    pub(super) nk: usize,
}

impl ChunkKeys {
    /// How many of the chunk's keys row `row` sees (a prefix of the chunk).
    #[inline(always)]
    pub(super) fn visible(&self, row: usize) -> usize {
        match self.mask {
            Mask::None => self.nk,
            Mask::Causal { offset } => (offset + self.q0 + row % self.nq + 1)
                .saturating_sub(self.k0)
                .min(self.nk),
        }
    }
}

/// One key chunk's step of the online softmax: `s` holds one row of `keys.nk` scores per
/// entry of `m`, of which each row keeps the keys it sees; each row's running maximum `m`
/// and normaliser `l` take the chunk in, its accumulator row in `acc` is rescaled to the new
/// maximum, and the scores become `exp(s − m)` (0 where unseen), ready to multiply the
/// chunk's values.
#[inline(always)]
fn online_softmax_rows(
    s: &mut [f32],
    keys: ChunkKeys,
    m: &mut [f32],
    l: &mut [f32],
    acc: &mut [f32],
) {
    let (nk, d) = (keys.nk, acc.len() / m.len());
    for row in 0..m.len() {
        let valid = keys.visible(row);
        let srow = &mut s[row * nk..(row + 1) * nk];
        if valid == 0 {
            srow.fill(0.0);
            continue;
        }
        let m_new = m[row].max(row_max(&srow[..valid]));
        let corr = (m[row] - m_new).exp(); // 0 on the first chunk (−∞)
        let sum = exp_shift_sum_body(&mut srow[..valid], m_new);
        srow[valid..].fill(0.0);
        l[row] = l[row] * corr + sum;
        if corr != 1.0 {
            acc[row * d..(row + 1) * d]
                .iter_mut()
                .for_each(|a| *a *= corr);
        }
        m[row] = m_new;
    }
}

simd_fn!(fn online_softmax(
    s: &mut [f32],
    keys: ChunkKeys,
    m: &mut [f32],
    l: &mut [f32],
    acc: &mut [f32],
) => online_softmax_rows);

/// One batch row × key head × query block.
struct Task<'a> {
    q: View4<'a>,
    k: View4<'a>,
    v: View4<'a>,
    mask: Mask,
    scale: f32,
    bi: usize,
    h: usize,
    g: usize,
    q0: usize,
    nq: usize,
}

impl Task<'_> {
    fn run(&self, out: OutPtr, lse: Option<OutPtr>, heads: usize) {
        let (q, k, v) = (&self.q, &self.k, &self.v);
        let d = q.shape[3];
        let lq = q.shape[2];
        let lk = k.shape[2];
        let (g, nq, q0) = (self.g, self.nq, self.q0);
        let rows = g * nq;
        // Stacked, scaled queries: row r·nq + i is query q0 + i of head h·g + r.
        let mut qs = vec![0.0f32; rows * d];
        for r in 0..g {
            for i in 0..nq {
                let src = q.offset
                    + self.bi * q.strides[0]
                    + (self.h * g + r) * q.strides[1]
                    + (q0 + i) * q.strides[2];
                let dst = &mut qs[(r * nq + i) * d..(r * nq + i + 1) * d];
                for (c, x) in dst.iter_mut().enumerate() {
                    *x = q.data[src + c * q.strides[3]] * self.scale;
                }
            }
        }
        // The last key any row reads.
        let last = match self.mask {
            Mask::None => lk,
            Mask::Causal { offset } => (offset + q0 + nq).min(lk),
        };
        let kbase = k.offset + self.bi * k.strides[0] + self.h * k.strides[1];
        let vbase = v.offset + self.bi * v.strides[0] + self.h * v.strides[1];
        let mut m = vec![f32::NEG_INFINITY; rows];
        let mut l = vec![0.0f32; rows];
        let mut acc = vec![0.0f32; rows * d];
        let mut s = vec![0.0f32; rows * KEY_CHUNK.min(last)];
        for k0 in (0..last).step_by(KEY_CHUNK) {
            let nk = KEY_CHUNK.min(last - k0);
            let s = &mut s[..rows * nk];
            // S = Qs · K[k0..k0+nk]ᵀ  (rows × nk); K's rows are the product's columns.
            // SAFETY: the key view was checked to lie in its buffer, and chunk k0..k0+nk of
            // key head h is inside it; `s` and `qs` have the sizes given.
            unsafe {
                product(
                    (rows, nk, d),
                    s.as_mut_ptr(),
                    false,
                    (qs.as_ptr(), d, 1),
                    (
                        k.data.as_ptr().add(kbase + k0 * k.strides[2]),
                        k.strides[3],
                        k.strides[2],
                    ),
                );
            }
            let keys = ChunkKeys {
                mask: self.mask,
                q0,
                nq,
                k0,
                nk,
            };
            online_softmax(s, keys, &mut m, &mut l, &mut acc);
            // acc += P · V[k0..k0+nk]  (rows × d)
            // SAFETY: as above, for the value view.
            unsafe {
                product(
                    (rows, d, nk),
                    acc.as_mut_ptr(),
                    true,
                    (s.as_ptr(), nk, 1),
                    (
                        v.data.as_ptr().add(vbase + k0 * v.strides[2]),
                        v.strides[2],
                        v.strides[3],
                    ),
                );
            }
        }
        for r in 0..g {
            for i in 0..nq {
                let row = r * nq + i;
                let inv = if l[row] > 0.0 { 1.0 / l[row] } else { 0.0 };
                if let Some(lse) = lse {
                    let at = (self.bi * heads + self.h * g + r) * lq + q0 + i;
                    // SAFETY: `at` indexes row (bi, h·g + r, q0 + i) of the `[B, heads, Lq]`
                    // log-sum-exp buffer, which only this task writes.
                    unsafe { *lse.0.add(at) = m[row] + l[row].ln() };
                }
                let at = ((self.bi * lq + q0 + i) * heads + self.h * g + r) * d;
                for c in 0..d {
                    // SAFETY: `at + c` indexes row (bi, q0 + i, h·g + r) of the
                    // `[B, Lq, heads, d]` output, which only this task writes.
                    unsafe { *out.0.add(at + c) = acc[row * d + c] * inv };
                }
            }
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Deterministic pseudo-random values in [-2, 2) (also the backward's tests).
    pub(crate) fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
            })
            .collect()
    }

    pub(crate) fn contiguous(data: &[f32], shape: [usize; 4]) -> View4<'_> {
        let [_, h, l, d] = shape;
        View4 {
            data,
            offset: 0,
            shape,
            strides: [h * l * d, l * d, d, 1],
        }
    }

    /// Attention in f64 with the whole score row, straight from the definition.
    fn naive(q: View4, k: View4, v: View4, mask: Mask, scale: f32) -> Vec<f32> {
        let [b, heads, lq, d] = q.shape;
        let [_, kv, lk, _] = k.shape;
        let at = |x: &View4, i: [usize; 4]| {
            x.data[x.offset + (0..4).map(|j| i[j] * x.strides[j]).sum::<usize>()] as f64
        };
        let mut out = vec![0.0f32; b * lq * heads * d];
        for bi in 0..b {
            for hq in 0..heads {
                let hk = hq / (heads / kv);
                for i in 0..lq {
                    let seen = match mask {
                        Mask::None => lk,
                        Mask::Causal { offset } => offset + i + 1,
                    };
                    let s: Vec<f64> = (0..seen)
                        .map(|j| {
                            (0..d)
                                .map(|c| at(&q, [bi, hq, i, c]) * at(&k, [bi, hk, j, c]))
                                .sum::<f64>()
                                * scale as f64
                        })
                        .collect();
                    let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = s.iter().map(|x| (x - mx).exp()).collect();
                    let z: f64 = e.iter().sum();
                    for c in 0..d {
                        let o: f64 = (0..seen).map(|j| e[j] * at(&v, [bi, hk, j, c])).sum();
                        out[((bi * lq + i) * heads + hq) * d + c] = (o / z) as f32;
                    }
                }
            }
        }
        out
    }

    fn assert_close(got: &[f32], want: &[f32], tol: f32) {
        assert_eq!(got.len(), want.len());
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < tol, "largest difference {worst}");
    }

    /// The query blocks follow the pool's thread count ([`TASKS_PER_THREAD`]); the bits do
    /// not: one thread (the largest blocks) and eight (blocks halved down to 32 queries).
    #[test]
    fn the_bits_do_not_depend_on_the_thread_count() {
        let (b, kv, g, d, l) = (1, 2, 2, 64, 512);
        let qd = values(b * kv * g * l * d, 7);
        let kd = values(b * kv * l * d, 8);
        let vd = values(b * kv * l * d, 9);
        let run = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                attention_with_lse(
                    contiguous(&qd, [b, kv * g, l, d]),
                    contiguous(&kd, [b, kv, l, d]),
                    contiguous(&vd, [b, kv, l, d]),
                    Mask::Causal { offset: 0 },
                    0.125,
                )
            })
        };
        let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
        let (one, eight) = (run(1), run(8));
        assert_eq!(bits(&one.0), bits(&eight.0), "outputs");
        assert_eq!(bits(&one.1), bits(&eight.1), "log-sum-exps");
    }

    #[test]
    fn causal_grouped_query_equals_the_definition_across_chunk_and_block_edges() {
        let (b, kv, g, d) = (2, 2, 3, 16);
        let lk = KEY_CHUNK + 45;
        for lq in [lk, 1, 70] {
            let offset = lk - lq;
            let qd = values(b * kv * g * lq * d, 1);
            let kd = values(b * kv * lk * d, 2);
            let vd = values(b * kv * lk * d, 3);
            let q = contiguous(&qd, [b, kv * g, lq, d]);
            let k = contiguous(&kd, [b, kv, lk, d]);
            let v = contiguous(&vd, [b, kv, lk, d]);
            let mask = Mask::Causal { offset };
            let got = attention(q, k, v, mask, 0.25);
            assert_close(&got, &naive(q, k, v, mask, 0.25), 2e-5);
        }
    }

    #[test]
    fn unmasked_attention_reads_strided_views() {
        // q, k, v stored as [B, L, H, d] and viewed as [B, H, L, d] (the projection layout),
        // with a start offset.
        let (b, h, l, d) = (1, 4, 300, 8);
        let buf = |seed| values(7 + b * l * h * d, seed);
        let (qd, kd, vd) = (buf(4), buf(5), buf(6));
        let view = |data| View4 {
            data,
            offset: 7,
            shape: [b, h, l, d],
            strides: [l * h * d, d, h * d, 1],
        };
        let (q, k, v) = (view(&qd), view(&kd), view(&vd));
        let got = attention(q, k, v, Mask::None, 0.3);
        assert_close(&got, &naive(q, k, v, Mask::None, 0.3), 2e-5);
    }

    #[test]
    fn extreme_scores_stay_finite() {
        // Large logits (scale 10) would overflow an unshifted exp.
        let (h, l, d) = (1, 40, 4);
        let qd: Vec<f32> = values(h * l * d, 7).iter().map(|x| x * 30.0).collect();
        let kd = values(h * l * d, 8);
        let vd = values(h * l * d, 9);
        let (q, k, v) = (
            contiguous(&qd, [1, h, l, d]),
            contiguous(&kd, [1, h, l, d]),
            contiguous(&vd, [1, h, l, d]),
        );
        let mask = Mask::Causal { offset: 0 };
        let got = attention(q, k, v, mask, 10.0);
        assert!(got.iter().all(|x| x.is_finite()));
        assert_close(&got, &naive(q, k, v, mask, 10.0), 1e-4);
    }

    #[test]
    #[should_panic(expected = "need 11 keys")]
    fn causal_queries_past_the_keys_are_refused() {
        let x = vec![0.0f32; 10 * 4];
        let q = contiguous(&x[..4], [1, 1, 1, 4]);
        let k = contiguous(&x, [1, 1, 10, 4]);
        attention(q, k, k, Mask::Causal { offset: 10 }, 1.0);
    }
}
