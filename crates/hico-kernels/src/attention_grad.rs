//! The backward pass of [`super::attention`]: the gradients of `O = softmax(scale · Q Kᵀ +
//! mask) V` with respect to `Q`, `K` and `V`, from the forward's log-sum-exp rows, never
//! holding an `L × L` matrix (FlashAttention-2's backward, on the CPU).
//!
//! With `S = scale · Q Kᵀ`, `P = exp(S − lse)` (the softmax, rebuilt from the saved
//! log-sum-exp of each row) and `D_i = Σ_c dO_ic · O_ic`:
//! `dV = Pᵀ dO`, `dP = dO Vᵀ`, `dS = P ∘ (dP − D)`, `dQ = scale · dS K`, `dK = scale · dSᵀ Q`.
//!
//! Two passes, each parallel over tasks that write disjoint outputs (no reduction, no
//! atomics): the key/value pass gives each task a block of keys of one key head and walks
//! the queries that see them (all `g` query heads of the group stacked as rows), summing
//! `dK` and `dV`; the query pass gives each task a block of queries and walks their keys,
//! summing `dQ`. Both rebuild `P` and `dS` chunk by chunk (the price of bounded memory:
//! scratch per task is `rows × chunk` scores). Every product is the `gemm` crate's kernel on
//! one thread, as in the forward.

use rayon::prelude::*;

use super::attention::{ChunkKeys, Mask, OutPtr, View4, product};
use super::exp::exp_shift_sum_body;
use super::simd::simd_fn;

/// Keys per task of the key/value pass.
const KEY_BLOCK: usize = 64;
/// Stacked query rows per chunk of the key/value pass, before rounding.
const ROW_CHUNK: usize = 256;
/// Stacked query rows per task of the query pass, before rounding (at most 128 queries).
const TASK_ROWS: usize = 128;
/// Keys per chunk of the query pass.
const KEY_CHUNK: usize = 256;

/// What the backward needs from the forward.
#[derive(Debug, Clone, Copy)]
pub struct Forward<'a> {
    /// Queries `[B, heads, Lq, d]`.
    pub q: View4<'a>,
    /// Keys `[B, kv_heads, Lk, d]`.
    pub k: View4<'a>,
    /// Values `[B, kv_heads, Lk, d]`.
    pub v: View4<'a>,
    /// The output `[B, heads, Lq, d]`.
    pub o: View4<'a>,
    /// Log-sum-exp of each query row's scaled scores, `[B, heads, Lq]` contiguous
    /// ([`super::attention::attention_with_lse`]).
    pub lse: &'a [f32],
    /// The forward's mask.
    pub mask: Mask,
    /// The forward's score scale.
    pub scale: f32,
}

/// Gradients of the three inputs, contiguous: `dq` `[B, heads, Lq, d]`, `dk` and `dv`
/// `[B, kv_heads, Lk, d]`.
#[derive(Debug)]
pub struct Grads {
    /// With respect to the queries.
    pub dq: Vec<f32>,
    /// With respect to the keys.
    pub dk: Vec<f32>,
    /// With respect to the values.
    pub dv: Vec<f32>,
}

/// The gradients of the attention inputs given the output's gradient `d_o`
/// (`[B, heads, Lq, d]`, any strides).
pub fn attention_backward(f: Forward, d_o: View4) -> Grads {
    let [b, heads, lq, d] = f.q.shape;
    let [_, kv, lk, _] = f.k.shape;
    assert!(
        f.o.shape == f.q.shape && d_o.shape == f.q.shape && f.lse.len() == b * heads * lq,
        "attention backward: output {:?}, its gradient {:?} and {} log-sum-exp rows do not fit \
         queries {:?}",
        f.o.shape,
        d_o.shape,
        f.lse.len(),
        f.q.shape
    );
    assert!(
        f.k.shape[0] == b && f.k.shape[3] == d && f.v.shape == f.k.shape,
        "attention backward: q {:?}, k {:?}, v {:?} do not fit",
        f.q.shape,
        f.k.shape,
        f.v.shape
    );
    assert!(
        kv > 0 && heads % kv == 0,
        "attention backward: {heads} query heads over {kv} key/value heads"
    );
    for (view, what) in [
        (f.q, "query"),
        (f.k, "key"),
        (f.v, "value"),
        (f.o, "output"),
        (d_o, "output gradient"),
    ] {
        view.check(what);
    }
    let mut grads = Grads {
        dq: vec![0.0; b * heads * lq * d],
        dk: vec![0.0; b * kv * lk * d],
        dv: vec![0.0; b * kv * lk * d],
    };
    if grads.dq.is_empty() || lk == 0 {
        return grads;
    }
    let g = heads / kv;
    let ctx = Ctx { f, d_o, g };

    // Key/value pass: one task per batch row × key head × block of keys.
    let kblocks = lk.div_ceil(KEY_BLOCK);
    let (dk, dv) = (OutPtr(grads.dk.as_mut_ptr()), OutPtr(grads.dv.as_mut_ptr()));
    (0..b * kv * kblocks).into_par_iter().for_each(|t| {
        let (bi, rest) = (t / (kv * kblocks), t % (kv * kblocks));
        let (h, kb) = (rest / kblocks, rest % kblocks);
        let k0 = kb * KEY_BLOCK;
        ctx.keys_task(bi, h, k0, KEY_BLOCK.min(lk - k0), dk, dv);
    });

    // Query pass: one task per batch row × key head × block of queries.
    let block = (TASK_ROWS / g).clamp(16, 128).min(lq);
    let qblocks = lq.div_ceil(block);
    let dq = OutPtr(grads.dq.as_mut_ptr());
    (0..b * kv * qblocks).into_par_iter().for_each(|t| {
        let (bi, rest) = (t / (kv * qblocks), t % (kv * qblocks));
        let (h, qb) = (rest / qblocks, rest % qblocks);
        let q0 = qb * block;
        ctx.queries_task(bi, h, q0, block.min(lq - q0), dq);
    });
    grads
}

/// The inputs shared by every task.
struct Ctx<'a> {
    f: Forward<'a>,
    d_o: View4<'a>,
    /// Query heads per key head.
    g: usize,
}

/// Queries `q0..q0 + nq` of the `g` query heads of one key head, stacked as rows: row
/// `r·nq + i` is query `q0 + i` of head `h·g + r`.
struct Rows {
    q0: usize,
    nq: usize,
    /// Scaled queries, `rows × d`.
    qs: Vec<f32>,
    /// Output gradients, `rows × d`.
    dos: Vec<f32>,
    /// `D = Σ_c dO · O` per row.
    delta: Vec<f32>,
    /// Log-sum-exp per row.
    lse: Vec<f32>,
}

impl Ctx<'_> {
    /// Gathers the stacked rows of key head `h` of batch row `bi` for queries `q0..q0 + nq`.
    fn rows(&self, bi: usize, h: usize, q0: usize, nq: usize) -> Rows {
        let Forward {
            q, o, lse, scale, ..
        } = self.f;
        let [_, heads, lq, d] = q.shape;
        let rows = self.g * nq;
        let mut out = Rows {
            q0,
            nq,
            qs: vec![0.0; rows * d],
            dos: vec![0.0; rows * d],
            delta: vec![0.0; rows],
            lse: vec![0.0; rows],
        };
        let at = |x: &View4, hq: usize, i: usize, c: usize| {
            x.data[x.offset
                + bi * x.strides[0]
                + hq * x.strides[1]
                + i * x.strides[2]
                + c * x.strides[3]]
        };
        for r in 0..self.g {
            let hq = h * self.g + r;
            for i in 0..nq {
                let row = r * nq + i;
                let mut delta = 0.0f32;
                for c in 0..d {
                    let g_o = at(&self.d_o, hq, q0 + i, c);
                    out.qs[row * d + c] = at(&q, hq, q0 + i, c) * scale;
                    out.dos[row * d + c] = g_o;
                    delta += g_o * at(&o, hq, q0 + i, c);
                }
                out.delta[row] = delta;
                out.lse[row] = lse[(bi * heads + hq) * lq + q0 + i];
            }
        }
        out
    }

    /// `P` and `dS` of `rows` against keys `k0..k0 + nk` of key head `h` into `p` and `ds`
    /// (`rows × nk` each; zero where masked).
    fn probs(
        &self,
        rows: &Rows,
        bi: usize,
        h: usize,
        (k0, nk): (usize, usize),
        p: &mut [f32],
        ds: &mut [f32],
    ) {
        let Forward { k, v, .. } = self.f;
        let d = k.shape[3];
        let n = rows.delta.len();
        let kp = k.offset + bi * k.strides[0] + h * k.strides[1] + k0 * k.strides[2];
        let vp = v.offset + bi * v.strides[0] + h * v.strides[1] + k0 * v.strides[2];
        // SAFETY: the views were checked to lie in their buffers and keys k0..k0 + nk of key
        // head h are inside them; `p`, `ds`, `qs` and `dos` have the sizes given.
        unsafe {
            // S = Qs Kᵀ, then P = exp(S − lse) on the keys each row sees.
            product(
                (n, nk, d),
                p.as_mut_ptr(),
                false,
                (rows.qs.as_ptr(), d, 1),
                (k.data.as_ptr().add(kp), k.strides[3], k.strides[2]),
            );
            // dP = dO Vᵀ.
            product(
                (n, nk, d),
                ds.as_mut_ptr(),
                false,
                (rows.dos.as_ptr(), d, 1),
                (v.data.as_ptr().add(vp), v.strides[3], v.strides[2]),
            );
        }
        let keys = ChunkKeys {
            mask: self.f.mask,
            q0: rows.q0,
            nq: rows.nq,
            k0,
            nk,
        };
        probs_and_score_grads(p, ds, keys, &rows.lse, &rows.delta);
    }

    /// `dK` and `dV` of keys `k0..k0 + nk` of key head `h`, batch row `bi`.
    fn keys_task(&self, bi: usize, h: usize, k0: usize, nk: usize, dk: OutPtr, dv: OutPtr) {
        let [_, _, lq, d] = self.f.q.shape;
        let [_, kv, lk, _] = self.f.k.shape;
        // Queries before `first` see none of these keys.
        let first = match self.f.mask {
            Mask::None => 0,
            Mask::Causal { offset } => k0.saturating_sub(offset).min(lq),
        };
        let chunk = (ROW_CHUNK / self.g).max(16);
        let mut dk_acc = vec![0.0f32; nk * d];
        let mut dv_acc = vec![0.0f32; nk * d];
        let mut p = vec![0.0f32; self.g * chunk * nk];
        let mut ds = vec![0.0f32; self.g * chunk * nk];
        for q0 in (first..lq).step_by(chunk) {
            let nq = chunk.min(lq - q0);
            let rows = self.rows(bi, h, q0, nq);
            let n = self.g * nq;
            let (p, ds) = (&mut p[..n * nk], &mut ds[..n * nk]);
            self.probs(&rows, bi, h, (k0, nk), p, ds);
            // SAFETY: the accumulators are `nk × d`, `p` and `ds` `n × nk` (read transposed
            // through their strides), `dos` and `qs` `n × d`.
            unsafe {
                // dV += Pᵀ dO.
                product(
                    (nk, d, n),
                    dv_acc.as_mut_ptr(),
                    true,
                    (p.as_ptr(), 1, nk),
                    (rows.dos.as_ptr(), d, 1),
                );
                // dK += dSᵀ (scale · Q).
                product(
                    (nk, d, n),
                    dk_acc.as_mut_ptr(),
                    true,
                    (ds.as_ptr(), 1, nk),
                    (rows.qs.as_ptr(), d, 1),
                );
            }
        }
        let at = ((bi * kv + h) * lk + k0) * d;
        // SAFETY: keys k0..k0 + nk of key head h of batch row bi are written by this task only.
        unsafe {
            std::ptr::copy_nonoverlapping(dk_acc.as_ptr(), dk.0.add(at), nk * d);
            std::ptr::copy_nonoverlapping(dv_acc.as_ptr(), dv.0.add(at), nk * d);
        }
    }

    /// `dQ` of queries `q0..q0 + nq` of the query heads of key head `h`, batch row `bi`.
    fn queries_task(&self, bi: usize, h: usize, q0: usize, nq: usize, dq: OutPtr) {
        let [_, heads, lq, d] = self.f.q.shape;
        let k = self.f.k;
        let lk = k.shape[2];
        let last = match self.f.mask {
            Mask::None => lk,
            Mask::Causal { offset } => (offset + q0 + nq).min(lk),
        };
        let rows = self.rows(bi, h, q0, nq);
        let n = self.g * nq;
        let mut dqs = vec![0.0f32; n * d];
        let width = KEY_CHUNK.min(last);
        let mut p = vec![0.0f32; n * width];
        let mut ds = vec![0.0f32; n * width];
        let kp = k.offset + bi * k.strides[0] + h * k.strides[1];
        for k0 in (0..last).step_by(KEY_CHUNK) {
            let nk = KEY_CHUNK.min(last - k0);
            let (p, ds) = (&mut p[..n * nk], &mut ds[..n * nk]);
            self.probs(&rows, bi, h, (k0, nk), p, ds);
            // SAFETY: keys k0..k0 + nk of key head h lie in the checked key view; `dqs` is
            // `n × d` and `ds` `n × nk`.
            unsafe {
                // dQs += dS K.
                product(
                    (n, d, nk),
                    dqs.as_mut_ptr(),
                    true,
                    (ds.as_ptr(), nk, 1),
                    (
                        k.data.as_ptr().add(kp + k0 * k.strides[2]),
                        k.strides[2],
                        k.strides[3],
                    ),
                );
            }
        }
        let scale = self.f.scale;
        for r in 0..self.g {
            for i in 0..nq {
                let row = r * nq + i;
                let at = ((bi * heads + h * self.g + r) * lq + q0 + i) * d;
                for c in 0..d {
                    // SAFETY: row (bi, h·g + r, q0 + i) of the `[B, heads, Lq, d]` gradient
                    // is written by this task only.
                    unsafe { *dq.0.add(at + c) = dqs[row * d + c] * scale };
                }
            }
        }
    }
}

/// `P = exp(S − lse)` in place of the scores in `p` (0 where a row does not see the key) and
/// `dS = P ⊙ (dP − D)` in place of `dP` in `ds`, row by row (one row per entry of `lse`).
#[inline(always)]
fn probs_rows(p: &mut [f32], ds: &mut [f32], keys: ChunkKeys, lse: &[f32], delta: &[f32]) {
    let nk = keys.nk;
    let rows = p.chunks_exact_mut(nk).zip(ds.chunks_exact_mut(nk));
    for (row, ((prow, dsrow), (&lse, &delta))) in rows.zip(lse.iter().zip(delta)).enumerate() {
        let valid = keys.visible(row);
        exp_shift_sum_body(&mut prow[..valid], lse);
        prow[valid..].fill(0.0);
        for (s, &pv) in dsrow.iter_mut().zip(prow.iter()) {
            *s = pv * (*s - delta);
        }
    }
}

simd_fn!(fn probs_and_score_grads(
    p: &mut [f32],
    ds: &mut [f32],
    keys: ChunkKeys,
    lse: &[f32],
    delta: &[f32],
) => probs_rows);

#[cfg(test)]
mod tests {
    use super::super::attention::attention_with_lse;
    use super::super::attention::tests::{contiguous, values};
    use super::*;

    /// The three gradients in f64 straight from the definition (whole score rows).
    fn naive(q: View4, k: View4, v: View4, d_o: View4, mask: Mask, scale: f64) -> [Vec<f64>; 3] {
        let [b, heads, lq, d] = q.shape;
        let [_, kv, lk, _] = k.shape;
        let at = |x: &View4, i: [usize; 4]| {
            x.data[x.offset + (0..4).map(|j| i[j] * x.strides[j]).sum::<usize>()] as f64
        };
        let (mut dq, mut dk, mut dv) = (
            vec![0.0; b * heads * lq * d],
            vec![0.0; b * kv * lk * d],
            vec![0.0; b * kv * lk * d],
        );
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
                                * scale
                        })
                        .collect();
                    let mx = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let z: f64 = s.iter().map(|x| (x - mx).exp()).sum();
                    let p: Vec<f64> = s.iter().map(|x| (x - mx).exp() / z).collect();
                    let dp: Vec<f64> = (0..seen)
                        .map(|j| {
                            (0..d)
                                .map(|c| at(&d_o, [bi, hq, i, c]) * at(&v, [bi, hk, j, c]))
                                .sum()
                        })
                        .collect();
                    let dot: f64 = (0..seen).map(|j| p[j] * dp[j]).sum();
                    for j in 0..seen {
                        let ds = p[j] * (dp[j] - dot);
                        for c in 0..d {
                            dq[((bi * heads + hq) * lq + i) * d + c] +=
                                scale * ds * at(&k, [bi, hk, j, c]);
                            dk[((bi * kv + hk) * lk + j) * d + c] +=
                                scale * ds * at(&q, [bi, hq, i, c]);
                            dv[((bi * kv + hk) * lk + j) * d + c] +=
                                p[j] * at(&d_o, [bi, hq, i, c]);
                        }
                    }
                }
            }
        }
        [dq, dk, dv]
    }

    fn assert_close(got: &[f32], want: &[f64], tol: f64, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        let worst = got
            .iter()
            .zip(want)
            .map(|(a, b)| (*a as f64 - b).abs())
            .fold(0.0, f64::max);
        assert!(worst < tol, "{what}: largest difference {worst}");
    }

    /// The backward of the forward's output, with the output recomputed by the kernel.
    fn check(q: View4, k: View4, v: View4, d_o: View4, mask: Mask, scale: f32) {
        let [b, heads, lq, d] = q.shape;
        let (out, lse) = attention_with_lse(q, k, v, mask, scale);
        // The forward writes [B, Lq, heads, d]; view it as [B, heads, Lq, d].
        let o = View4 {
            data: &out,
            offset: 0,
            shape: [b, heads, lq, d],
            strides: [lq * heads * d, d, heads * d, 1],
        };
        let got = attention_backward(
            Forward {
                q,
                k,
                v,
                o,
                lse: &lse,
                mask,
                scale,
            },
            d_o,
        );
        let [dq, dk, dv] = naive(q, k, v, d_o, mask, scale as f64);
        assert_close(&got.dq, &dq, 2e-4, "dq");
        assert_close(&got.dk, &dk, 2e-4, "dk");
        assert_close(&got.dv, &dv, 2e-4, "dv");
    }

    #[test]
    fn causal_grouped_query_gradients_equal_the_definition_across_chunks() {
        let (b, kv, g, d) = (2, 2, 3, 8);
        // Crosses KEY_BLOCK, ROW_CHUNK / g and KEY_CHUNK edges; Lq < Lk sits at an offset.
        let lk = KEY_CHUNK + 21;
        for lq in [lk, 1, 70] {
            let qd = values(b * kv * g * lq * d, 1);
            let kd = values(b * kv * lk * d, 2);
            let vd = values(b * kv * lk * d, 3);
            let gd = values(b * kv * g * lq * d, 4);
            let q = contiguous(&qd, [b, kv * g, lq, d]);
            let k = contiguous(&kd, [b, kv, lk, d]);
            let v = contiguous(&vd, [b, kv, lk, d]);
            let d_o = contiguous(&gd, [b, kv * g, lq, d]);
            check(q, k, v, d_o, Mask::Causal { offset: lk - lq }, 0.3);
        }
    }

    #[test]
    fn unmasked_gradients_read_strided_views() {
        // [B, L, H, d] buffers viewed as [B, H, L, d] with a start offset.
        let (b, h, l, d) = (1, 2, 90, 4);
        let buf = |seed| values(5 + b * l * h * d, seed);
        let (qd, kd, vd, gd) = (buf(5), buf(6), buf(7), buf(8));
        let view = |data| View4 {
            data,
            offset: 5,
            shape: [b, h, l, d],
            strides: [l * h * d, d, h * d, 1],
        };
        check(view(&qd), view(&kd), view(&vd), view(&gd), Mask::None, 0.5);
    }
}
