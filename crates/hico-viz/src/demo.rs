//! Synthetic, deterministic plot inputs (a video with a "needle" frame that attention and
//! dropout favour), for tests, the gallery example and trying the plots out.

pub use hico_core::provenance::Provenance;
use hico_core::provenance::{PatchGrid, VisualToken};
use hico_core::trace::{AttentionCapture, RetentionStage, RetentionTrace};

/// Deterministic noise in `[0, 1)` from an integer (splitmix64 finaliser).
fn noise(x: u64) -> f64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// A video of `n_clips` clips of `frames` frames with a 4×4 patch grid, sampled at `fps`;
/// each frame's 16 patches are merged into `tokens_per_frame` tokens (a divisor of 16).
pub fn provenance(n_clips: usize, frames: usize, tokens_per_frame: usize, fps: f64) -> Provenance {
    let grid = PatchGrid { frames, h: 4, w: 4 };
    let per = grid.per_frame() / tokens_per_frame.clamp(1, grid.per_frame());
    let n_frames = n_clips * frames;
    let mut tokens = Vec::new();
    for c in 0..n_clips {
        for t in 0..frames {
            for k in 0..grid.per_frame() / per {
                let first = (t * grid.per_frame() + k * per) as u32;
                tokens.push(VisualToken::new(
                    c as u32,
                    (first..first + per as u32).collect(),
                ));
            }
        }
    }
    Provenance {
        grid,
        frame_indices: (0..n_frames).map(|f| f * 4).collect(),
        frame_times: (0..n_frames).map(|f| f as f64 / fps).collect(),
        tokens,
    }
}

/// Relevance of each token: high near sampled frame `needle`, plus noise.
fn relevance(prov: &Provenance, needle: usize, seed: u64) -> Vec<f64> {
    let width = (prov.n_frames() as f64 / 12.0).max(1.0);
    (0..prov.tokens.len())
        .map(|i| {
            let d = (prov.anchor_frame(i) as f64 - needle as f64) / width;
            (-d * d).exp() + 0.6 * noise(seed ^ (i as u64 * 7919))
        })
        .collect()
}

/// A trace over `n_layers` layers: after each `(after_layer, keep_fraction)` the most
/// relevant `keep_fraction` of the original tokens (relevance peaking at frame `needle`) stay.
pub fn trace(
    prov: &Provenance,
    n_layers: usize,
    schedule: &[(usize, f64)],
    needle: usize,
    seed: u64,
) -> RetentionTrace {
    let rel = relevance(prov, needle, seed);
    let mut order: Vec<u32> = (0..rel.len() as u32).collect();
    order.sort_by(|&a, &b| rel[b as usize].total_cmp(&rel[a as usize]));
    let stages = schedule
        .iter()
        .map(|&(after_layer, keep)| {
            let n = ((rel.len() as f64 * keep).round() as usize).min(rel.len());
            let mut kept = order[..n].to_vec();
            kept.sort_unstable();
            RetentionStage { after_layer, kept }
        })
        .collect();
    RetentionTrace {
        n_layers,
        n_visual: prov.tokens.len(),
        stages,
    }
}

/// Attention of `layers` over `n_frames` frames at `fps`: diffuse in early layers, peaked
/// at frame `needle` in later ones; each row sums to about 0.6 (the rest goes to text).
pub fn attention(layers: &[usize], n_frames: usize, fps: f64, needle: usize) -> AttentionCapture {
    let depth = layers.iter().copied().max().unwrap_or(1) as f64;
    let per_frame: Vec<Vec<f32>> = layers
        .iter()
        .map(|&l| {
            let sharp = l as f64 / depth;
            let width = (n_frames as f64 * (0.3 - 0.27 * sharp)).max(1.0);
            let raw: Vec<f64> = (0..n_frames)
                .map(|f| {
                    let d = (f as f64 - needle as f64) / width;
                    (1.0 - sharp) * 0.3 + (-d * d).exp() + 0.2 * noise(f as u64 * 31 + l as u64)
                })
                .collect();
            let sum: f64 = raw.iter().sum();
            raw.iter().map(|v| (0.6 * v / sum) as f32).collect()
        })
        .collect();
    AttentionCapture {
        layers: layers.to_vec(),
        frame_times: (0..n_frames).map(|f| f as f64 / fps).collect(),
        text: vec![0.4; layers.len()],
        per_frame,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_inputs_are_consistent() {
        let p = provenance(2, 4, 4, 2.0);
        p.validate().unwrap();
        assert_eq!(p.tokens.len(), 32);
        let t = trace(&p, 6, &[(2, 0.5), (4, 0.25)], 3, 1);
        assert_eq!(t.counts(), vec![32, 32, 16, 16, 8, 8]);
        let a = attention(&[1, 6], 8, 2.0, 3);
        let s: f32 = a.per_frame[1].iter().sum();
        assert!((s - 0.6).abs() < 1e-4);
        assert!(a.per_frame[1][3] > a.per_frame[1][7]);
    }
}
