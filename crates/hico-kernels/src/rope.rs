//! Rotary position embedding in one pass: `x·cos + rotate_half(x)·sin` with
//! `rotate_half(x) = cat(−x[d/2..], x[..d/2])` (HF's `apply_rotary_pos_emb`), reading `x`
//! through its strides (the heads view of a projection) and writing `[B, L, H, d]`, the layout
//! the attention kernel and the KV cache read. The composed form is six burn ops over a
//! strided view (two slices, a negation, a concatenation, two products and a sum).

use rayon::prelude::*;

use super::attention::View4;

/// `x` rotated at each position: `x`: `[B, H, L, d]` (strided), `cos` and `sin`:
/// `[L, d]` row-major; returns `[B, L, H, d]`, contiguous.
pub fn rope(x: View4, cos: &[f32], sin: &[f32]) -> Vec<f32> {
    let [b, h, l, d] = x.shape;
    assert!(
        d % 2 == 0 && cos.len() == l * d && sin.len() == l * d,
        "rope: head dim {d} (must be even), {} cos and {} sin values for {l} positions",
        cos.len(),
        sin.len()
    );
    let mut out = vec![0.0f32; b * l * h * d];
    if out.is_empty() {
        return out;
    }
    let last: usize = (0..4).map(|i| (x.shape[i] - 1) * x.strides[i]).sum();
    assert!(
        x.offset + last < x.data.len(),
        "rope: view outside its buffer"
    );
    let half = d / 2;
    // One task per (batch, position): its `H·d` outputs are contiguous.
    out.par_chunks_mut(h * d).enumerate().for_each(|(t, dst)| {
        let (bi, p) = (t / l, t % l);
        let (c, s) = (&cos[p * d..(p + 1) * d], &sin[p * d..(p + 1) * d]);
        for hi in 0..h {
            let at = x.offset + bi * x.strides[0] + hi * x.strides[1] + p * x.strides[2];
            let o = &mut dst[hi * d..(hi + 1) * d];
            let sd = x.strides[3];
            for j in 0..half {
                let (x1, x2) = (x.data[at + j * sd], x.data[at + (j + half) * sd]);
                o[j] = x1 * c[j] - x2 * s[j];
                o[j + half] = x2 * c[j + half] + x1 * s[j + half];
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_pairs_and_writes_positions_major() {
        // B = 1, H = 2, L = 2, d = 4, stored [B, L, H, d] and viewed [B, H, L, d].
        let data: Vec<f32> = (0..16).map(|i| i as f32 + 1.0).collect();
        let x = View4 {
            data: &data,
            offset: 0,
            shape: [1, 2, 2, 4],
            strides: [16, 4, 8, 1],
        };
        let angle = [0.3f32, 0.7];
        let cos: Vec<f32> = (0..2)
            .flat_map(|p| (0..4).map(move |j| ((p + 1) as f32 * angle[j % 2]).cos()))
            .collect();
        let sin: Vec<f32> = (0..2)
            .flat_map(|p| (0..4).map(move |j| ((p + 1) as f32 * angle[j % 2]).sin()))
            .collect();
        let got = rope(x, &cos, &sin);
        for p in 0..2 {
            for hd in 0..2 {
                let v = &data[(p * 2 + hd) * 4..(p * 2 + hd + 1) * 4];
                for j in 0..2 {
                    let (a, b) = (v[j], v[j + 2]);
                    let (c, s) = (cos[p * 4 + j], sin[p * 4 + j]);
                    // Each (j, j + d/2) pair turns by its angle.
                    let o = &got[(p * 2 + hd) * 4..];
                    assert!((o[j] - (a * c - b * s)).abs() < 1e-6);
                    assert!((o[j + 2] - (b * c + a * s)).abs() < 1e-6);
                }
            }
        }
    }
}
