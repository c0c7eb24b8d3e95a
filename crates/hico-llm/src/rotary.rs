//! Rotary position embedding in the Hugging Face half-split layout (`rotate_half`: the
//! first and second halves of each head form the pairs), at arbitrary position ids (after a
//! visual drop positions may be renumbered or kept with gaps).
//!
//! The inverse frequencies are computed once on the host as transformers does (f32, with
//! Llama 3.x or linear scaling); the `cos` / `sin` table of the first
//! [`TABLE_ROWS`] positions is computed once per model on the device ([`RopeTable`]), and a
//! forward selects its rows by position id. Positions past the table are computed on the
//! device from the inverse frequencies.

use hico_backend::HicoBackend;
use std::path::Path;

use burn::module::Module;
use burn::tensor::{Int, Tensor, TensorData, backend::Backend};
use serde_json::{Map, Value};

use crate::LlmError;

/// Positions covered by the precomputed table (fewer when the model has fewer).
pub const TABLE_ROWS: usize = 8_192;

/// Scaling of the rotary frequencies (`rope_type` of transformers); `None` is plain rotary.
pub use hico_core::config::RopeScalingConfig as RopeScaling;

/// The `rope_scaling` object of a `config.json` (`None` for plain rotary).
pub fn scaling_json(scaling: Option<&RopeScaling>) -> Option<Value> {
    scaling.map(|r| serde_json::to_value(r).expect("rope scaling serialises"))
}

/// Rotary base and scaling of a `config.json`: transformers 5's `rope_parameters`, or the
/// older `rope_theta` plus `rope_scaling`. An unsupported `rope_type` names its key.
pub fn parse_rope(
    hf: &Map<String, Value>,
    max_positions: usize,
    path: &Path,
) -> Result<(Option<f64>, Option<RopeScaling>), LlmError> {
    let (name, params) = match (hf.get("rope_parameters"), hf.get("rope_scaling")) {
        (Some(Value::Object(p)), _) => ("rope_parameters", Some(p)),
        (_, Some(Value::Object(p))) => ("rope_scaling", Some(p)),
        _ => ("rope_scaling", None),
    };
    let theta = params
        .and_then(|p| p.get("rope_theta"))
        .or_else(|| hf.get("rope_theta"))
        .and_then(Value::as_f64);
    let Some(p) = params else {
        return Ok((theta, None));
    };
    let kind = p
        .get("rope_type")
        .or_else(|| p.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("default");
    let num = |key: &str| -> Result<f64, LlmError> {
        p.get(key)
            .and_then(Value::as_f64)
            .ok_or_else(|| LlmError::Config {
                path: path.to_owned(),
                message: format!("`{name}.{key}` is missing or not a number (rope_type {kind})"),
            })
    };
    let scaling = match kind {
        "default" => None,
        "linear" => Some(RopeScaling::Linear {
            factor: num("factor")?,
        }),
        "llama3" => Some(RopeScaling::Llama3 {
            factor: num("factor")?,
            low_freq_factor: num("low_freq_factor")?,
            high_freq_factor: num("high_freq_factor")?,
            original_max_position_embeddings: p
                .get("original_max_position_embeddings")
                .or_else(|| hf.get("original_max_position_embeddings"))
                .and_then(Value::as_u64)
                .map_or(max_positions, |v| v as usize),
        }),
        other => {
            return Err(LlmError::Unsupported {
                path: path.to_owned(),
                key: format!("{name}.rope_type"),
                value: other.into(),
                supported: "default, linear, llama3".into(),
            });
        }
    };
    Ok((theta, scaling))
}

/// Inverse frequencies of a head of width `head_dim`, as transformers computes them in f32
/// (`1 / base^(2i/d)`, then the scaling's adjustment).
pub fn inv_freq(head_dim: usize, theta: f64, scaling: Option<&RopeScaling>) -> Vec<f32> {
    let base = theta as f32;
    let inv = (0..head_dim / 2).map(|i| 1.0 / base.powf((2 * i) as f32 / head_dim as f32));
    match scaling.copied() {
        None => inv.collect(),
        Some(RopeScaling::Linear { factor }) => inv.map(|f| f / factor as f32).collect(),
        Some(RopeScaling::Llama3 {
            factor,
            low_freq_factor: low,
            high_freq_factor: high,
            original_max_position_embeddings: old,
        }) => {
            // `_compute_llama3_parameters`: tensor ops in f32, Python scalars in f64.
            let old = old as f64;
            let (low_wavelen, high_wavelen) = ((old / low) as f32, (old / high) as f32);
            let factor32 = factor as f32;
            inv.map(|f| {
                let wavelen = (2.0 * std::f64::consts::PI) as f32 / f;
                let scaled = if wavelen > low_wavelen {
                    f / factor32
                } else {
                    f
                };
                let smooth = ((old as f32) / wavelen - low as f32) / (high - low) as f32;
                let smoothed = (1.0 - smooth) * scaled / factor32 + smooth * scaled;
                let medium = wavelen >= high_wavelen && wavelen <= low_wavelen;
                if medium { smoothed } else { scaled }
            })
            .collect()
        }
    }
}

/// `cos` and `sin` of the first positions and the inverse frequencies, on the device
/// (constant tensors of the model: not parameters, not in records).
#[derive(Module, Debug)]
pub struct RopeTable<B: Backend> {
    /// `[rows, head_dim]`.
    pub cos: Tensor<B, 2>,
    /// `[rows, head_dim]`.
    pub sin: Tensor<B, 2>,
    /// `[1, head_dim / 2]`.
    pub inv_freq: Tensor<B, 2>,
}

impl<B: HicoBackend> RopeTable<B> {
    /// The table of positions `0..rows` for inverse frequencies `inv`.
    pub fn new(inv: &[f32], rows: usize, device: &B::Device) -> Self {
        let half = inv.len();
        let inv_freq = Tensor::from_data(TensorData::new(inv.to_vec(), [1, half]), device);
        let pos = Tensor::<B, 1, Int>::arange(0..rows as i64, device);
        let (cos, sin) = angles(pos, &inv_freq);
        Self { cos, sin, inv_freq }
    }

    /// Rows of the table for `positions` (computed on the device for any past the table).
    pub fn at(&self, positions: &[usize]) -> Rope<B> {
        let device = self.cos.device();
        let [rows, d] = self.cos.dims();
        let n = positions.len();
        let ids: Vec<i64> = positions.iter().map(|&p| p as i64).collect();
        let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [n]), &device);
        let (cos, sin) = if positions.iter().all(|&p| p < rows) {
            (
                self.cos.clone().select(0, ids.clone()),
                self.sin.clone().select(0, ids),
            )
        } else {
            angles(ids, &self.inv_freq)
        };
        Rope {
            cos: cos.reshape([1, 1, n, d]),
            sin: sin.reshape([1, 1, n, d]),
        }
    }
}

/// `cos` and `sin` of `cat(p·inv, p·inv)` for each position: two `[n, head_dim]`.
fn angles<B: HicoBackend>(
    pos: Tensor<B, 1, Int>,
    inv: &Tensor<B, 2>,
) -> (Tensor<B, 2>, Tensor<B, 2>) {
    let n = pos.dims()[0];
    let freqs = pos.float().reshape([n, 1]) * inv.clone(); // [n, half]
    let emb = Tensor::cat(vec![freqs.clone(), freqs], 1);
    (emb.clone().cos(), emb.sin())
}

/// `cos` and `sin` at a list of positions.
#[derive(Debug, Clone)]
pub struct Rope<B: Backend> {
    /// `[1, 1, L, head_dim]`.
    pub cos: Tensor<B, 4>,
    /// `[1, 1, L, head_dim]`.
    pub sin: Tensor<B, 4>,
}

impl<B: HicoBackend> Rope<B> {
    /// Rotate `x`.
    ///
    /// # Shapes
    /// - `x`: `[1, heads, L, head_dim]` → same
    pub fn apply(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        // One pass on the CPU backend, plain or under autodiff; burn ops elsewhere.
        B::rope(x, self.cos.clone(), self.sin.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hico_backend::Cpu;

    /// Rows from the table and rows computed past it agree, and both match the host formula.
    #[test]
    fn table_rows_and_computed_rows_agree() {
        let dev = Default::default();
        let inv = inv_freq(8, 10_000.0, None);
        let table = RopeTable::<Cpu>::new(&inv, 16, &dev);
        let inside = table.at(&[3, 15]);
        let wide = RopeTable::<Cpu>::new(&inv, 64, &dev);
        let past = table.at(&[3, 40]);
        let want = wide.at(&[3, 40]);
        past.cos.into_data().assert_approx_eq::<f32>(
            &want.cos.into_data(),
            burn::tensor::Tolerance::absolute(1e-6),
        );
        let c: Vec<f32> = inside.cos.into_data().to_vec().unwrap();
        let host = (15.0f32 * inv[1]).cos();
        assert!((c[8 + 1] - host).abs() < 1e-6 && (c[8 + 5] - host).abs() < 1e-6);
    }

    /// Llama 3.x scaling: high frequencies kept, low ones divided by the factor, the middle
    /// band between the two.
    #[test]
    fn llama3_scaling_bands() {
        let plain = inv_freq(64, 500_000.0, None);
        let s = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position_embeddings: 8192,
        };
        let scaled = inv_freq(64, 500_000.0, Some(&s));
        assert_eq!(scaled[0], plain[0]);
        assert_eq!(scaled[31], plain[31] / 8.0);
        let mid = scaled
            .iter()
            .zip(&plain)
            .filter(|(a, b)| *a < *b && **a > **b / 8.0);
        assert!(mid.count() > 0);
    }
}
