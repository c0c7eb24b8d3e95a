//! Rotary position embedding in the Hugging Face half-split layout (`rotate_half`: the
//! first and second halves of each head form the pairs), at arbitrary position ids (after a
//! visual drop positions may be renumbered or kept with gaps).

use burn::tensor::{Tensor, TensorData, backend::Backend};

/// `cos` and `sin` tables for a list of position ids.
#[derive(Debug, Clone)]
pub struct Rope<B: Backend> {
    /// `[1, 1, L, head_dim]`.
    pub cos: Tensor<B, 4>,
    /// `[1, 1, L, head_dim]`.
    pub sin: Tensor<B, 4>,
}

impl<B: Backend> Rope<B> {
    /// Tables for `positions` with base `theta`, computed as HF does (f32 inverse
    /// frequencies, `freqs = pos · inv_freq`, `emb = cat(freqs, freqs)`).
    pub fn new(positions: &[usize], head_dim: usize, theta: f64, device: &B::Device) -> Self {
        let half = head_dim / 2;
        let inv: Vec<f32> = (0..half)
            .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let n = positions.len();
        let mut cos = Vec::with_capacity(n * head_dim);
        let mut sin = Vec::with_capacity(n * head_dim);
        for &p in positions {
            for rep in 0..2 {
                let _ = rep;
                for f in &inv {
                    let a = p as f32 * f;
                    cos.push(a.cos());
                    sin.push(a.sin());
                }
            }
        }
        let make = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [1, 1, n, head_dim]), device);
        Self {
            cos: make(cos),
            sin: make(sin),
        }
    }

    /// Rotate `x`.
    ///
    /// # Shapes
    /// - `x`: `[1, heads, L, head_dim]` → same
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let [b, h, l, d] = x.dims();
        let x1 = x.clone().slice([0..b, 0..h, 0..l, 0..d / 2]);
        let x2 = x.clone().slice([0..b, 0..h, 0..l, d / 2..d]);
        let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
        x * self.cos.clone() + rotated * self.sin.clone()
    }
}
