//! The fixed sinusoidal space-time position embedding of UMT (`umt/vit.py`,
//! `get_sinusoid_encoding_table` / `get_sinusoid_encoding_table2`).
//!
//! The table is the 1-D transformer sinusoid over the *flattened* space-time index
//! `t·g² + p` of a clip of `frames` frames on a `g × g` grid (`g = pos_grid`, 14 for
//! UMT-L): channel `j` of position `n` is `sin` (even `j`) or `cos` (odd `j`) of
//! `n / 10000^(2⌊j/2⌋/D)`. For another patch grid `h × w` each frame's `g × g` slice is
//! resized bicubically (PyTorch `interpolate(mode="bicubic", align_corners=False)`,
//! A = −0.75, edge-clamped taps), as the reference does for 448 px. The reference
//! interpolates along time only when the clip length differs from the checkpoint's 4
//! frames; hico builds the table for the clip length it is given (identical for L = 4 and
//! for single images, whose table is the first frame's).

/// The 1-D sinusoid table, `n × d` row-major, computed in f64 like the reference (numpy).
pub fn sinusoid_table(n: usize, d: usize) -> Vec<f64> {
    let denom: Vec<f64> = (0..d)
        .map(|j| 10000f64.powf(2.0 * (j / 2) as f64 / d as f64))
        .collect();
    let mut out = vec![0.0; n * d];
    for pos in 0..n {
        for (j, den) in denom.iter().enumerate() {
            let angle = pos as f64 / den;
            out[pos * d + j] = if j % 2 == 0 { angle.sin() } else { angle.cos() };
        }
    }
    out
}

/// PyTorch's cubic convolution weights of the 4 taps around fractional offset `t`.
fn cubic_weights(t: f64) -> [f64; 4] {
    const A: f64 = -0.75;
    let c1 = |x: f64| ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    let c2 = |x: f64| ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    [c2(t + 1.0), c1(t), c1(1.0 - t), c2(2.0 - t)]
}

/// Taps (clamped source indices and weights) for resizing `n_in` samples to `n_out`.
fn taps(n_in: usize, n_out: usize) -> Vec<([usize; 4], [f64; 4])> {
    let scale = n_in as f64 / n_out as f64;
    (0..n_out)
        .map(|o| {
            let src = (o as f64 + 0.5) * scale - 0.5;
            let i0 = src.floor();
            let w = cubic_weights(src - i0);
            let idx = [-1i64, 0, 1, 2].map(|k| (i0 as i64 + k).clamp(0, n_in as i64 - 1) as usize);
            (idx, w)
        })
        .collect()
}

/// Bicubic resize of a `g × g × d` grid (row-major, channels last) to `h × w × d`.
pub fn bicubic(grid: &[f64], g: usize, d: usize, h: usize, w: usize) -> Vec<f64> {
    if h == g && w == g {
        return grid.to_vec();
    }
    let (ty, tx) = (taps(g, h), taps(g, w));
    let mut out = vec![0.0; h * w * d];
    for (oy, (iy, wy)) in ty.iter().enumerate() {
        for (ox, (ix, wx)) in tx.iter().enumerate() {
            let dst = &mut out[(oy * w + ox) * d..(oy * w + ox + 1) * d];
            for a in 0..4 {
                for b in 0..4 {
                    let wt = wy[a] * wx[b];
                    let src = &grid[(iy[a] * g + ix[b]) * d..(iy[a] * g + ix[b] + 1) * d];
                    dst.iter_mut().zip(src).for_each(|(o, s)| *o += wt * s);
                }
            }
        }
    }
    out
}

/// The position embedding of a clip: `[frames·h·w, d]` row-major, f32.
pub fn clip_pos_embed(frames: usize, g: usize, h: usize, w: usize, d: usize) -> Vec<f32> {
    let table = sinusoid_table(frames * g * g, d);
    let mut out = Vec::with_capacity(frames * h * w * d);
    for t in 0..frames {
        // The reference casts the table to f32 before interpolating.
        let frame: Vec<f64> = table[t * g * g * d..(t + 1) * g * g * d]
            .iter()
            .map(|&v| v as f32 as f64)
            .collect();
        out.extend(bicubic(&frame, g, d, h, w).into_iter().map(|v| v as f32));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sinusoid_known_values() {
        let t = sinusoid_table(3, 4);
        // pos 0: sin 0, cos 0, sin 0, cos 0
        assert_eq!(&t[0..4], &[0.0, 1.0, 0.0, 1.0]);
        // pos 2, j = 2: 2 / 10000^(2/4) = 0.02
        assert!((t[2 * 4 + 2] - 0.02f64.sin()).abs() < 1e-12);
        assert!((t[2 * 4 + 1] - 2f64.cos()).abs() < 1e-12);
    }

    #[test]
    fn bicubic_keeps_constants_and_identity() {
        let g = vec![3.0; 2 * 2];
        assert!(
            bicubic(&g, 2, 1, 5, 3)
                .iter()
                .all(|v| (v - 3.0).abs() < 1e-12)
        );
        let ramp: Vec<f64> = (0..4).map(|i| i as f64).collect();
        assert_eq!(bicubic(&ramp, 2, 1, 2, 2), ramp);
        // Upsampling 2 → 4 of [0, 1]: torch gives [-0.1055, 0.2266, 0.7734, 1.1055]
        let row = bicubic(&[0.0, 1.0, 0.0, 1.0], 2, 1, 2, 4);
        let want = [-0.10546875, 0.2265625, 0.7734375, 1.10546875];
        for (a, b) in row[..4].iter().zip(want) {
            assert!((a - b).abs() < 1e-9, "{row:?}");
        }
    }
}
