//! Loading [`UmtEncoder`] from safetensors under the reference key names.
//!
//! The prefix is found from the key ending in `patch_embed.proj.weight` (`encoder.` in the
//! UMT `.pt` converted to safetensors, `model.vision_tower.vision_tower.encoder.` in a
//! VideoChat-Flash checkpoint). Under that prefix `P`:
//!
//! | reference key | hico field | conversion |
//! |---|---|---|
//! | `P.patch_embed.proj.weight` `[D, 3, 1, p, p]` | `patch_embed.weight` `[3p², D]` | flatten, transpose |
//! | `P.patch_embed.proj.bias` | `patch_embed.bias` | |
//! | `P.blocks.i.norm{1,2}.{weight,bias}` | `blocks[i].norm{1,2}.{gamma,beta}` | |
//! | `P.blocks.i.attn.qkv.weight` `[3D, D]` | `blocks[i].attn.qkv.weight` | transpose |
//! | `P.blocks.i.attn.{q,v}_bias` | `blocks[i].attn.{q,v}_bias` | |
//! | `P.blocks.i.attn.proj.{weight,bias}` | `blocks[i].attn.proj` | transpose weight |
//! | `P.blocks.i.mlp.fc{1,2}.{weight,bias}` | `blocks[i].mlp.fc{1,2}` | transpose weight |
//! | `P.vision_layernorm.{weight,bias}` (or `P.norm.*`) | `vision_layernorm` | |
//!
//! Blocks from `output_blocks` to `depth − 1` are skipped (the reference never runs them);
//! `P.pos_embed` / `P.img_pos_embed` are ignored (the table is recomputed); any other key
//! under `P` is reported as unexpected. F32, F16 and BF16 tensors are read.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::nn::{LayerNorm, Linear};
use burn::tensor::{Device, Tensor, TensorData, backend::Backend};
use hico_core::config::VisionConfig;
use safetensors::{Dtype, SafeTensors};

use super::{UmtEncoder, mlp_hidden, running_blocks};
use crate::VisionError;

/// Reads tensors under one prefix, remembering which keys were used.
struct Reader<'a> {
    file: PathBuf,
    st: SafeTensors<'a>,
    prefix: String,
    used: BTreeSet<String>,
}

impl Reader<'_> {
    fn read(&mut self, name: &str, shape: &[usize]) -> Result<Vec<f32>, VisionError> {
        let key = format!("{}{name}", self.prefix);
        let view = self.st.tensor(&key).map_err(|_| VisionError::Missing {
            file: self.file.clone(),
            key: key.clone(),
            expected: shape.to_vec(),
        })?;
        if view.shape() != shape {
            return Err(VisionError::Shape {
                file: self.file.clone(),
                key,
                expected: shape.to_vec(),
                found: view.shape().to_vec(),
            });
        }
        let bytes = view.data();
        let values = match view.dtype() {
            Dtype::F32 => bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => bytes
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => bytes
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(VisionError::Dtype {
                    file: self.file.clone(),
                    key,
                    dtype: format!("{other:?}"),
                });
            }
        };
        self.used.insert(key);
        Ok(values)
    }

    fn vector<B: Backend>(
        &mut self,
        name: &str,
        d: usize,
        dev: &Device<B>,
    ) -> Result<Tensor<B, 1>, VisionError> {
        Ok(Tensor::from_data(
            TensorData::new(self.read(name, &[d])?, [d]),
            dev,
        ))
    }

    /// A torch Linear `[out, in]` (+ bias) as a burn Linear `[in, out]`.
    fn linear<B: Backend>(
        &mut self,
        name: &str,
        d_in: usize,
        d_out: usize,
        bias: bool,
        dev: &Device<B>,
    ) -> Result<Linear<B>, VisionError> {
        let w = self.read(&format!("{name}.weight"), &[d_out, d_in])?;
        let w = Tensor::<B, 2>::from_data(TensorData::new(w, [d_out, d_in]), dev).transpose();
        let b = if bias {
            Some(Param::from_tensor(self.vector(
                &format!("{name}.bias"),
                d_out,
                dev,
            )?))
        } else {
            None
        };
        Ok(Linear {
            weight: Param::from_tensor(w),
            bias: b,
        })
    }

    fn norm<B: Backend>(
        &mut self,
        name: &str,
        mut ln: LayerNorm<B>,
        d: usize,
        dev: &Device<B>,
    ) -> Result<LayerNorm<B>, VisionError> {
        ln.gamma = Param::from_tensor(self.vector(&format!("{name}.weight"), d, dev)?);
        ln.beta = Some(Param::from_tensor(self.vector(
            &format!("{name}.bias"),
            d,
            dev,
        )?));
        Ok(ln)
    }
}

impl<B: Backend> UmtEncoder<B> {
    /// Load from a safetensors file with the reference key names (see the module docs).
    pub fn load(cfg: &VisionConfig, path: &Path, device: &Device<B>) -> Result<Self, VisionError> {
        let file = path.to_path_buf();
        let bytes = std::fs::read(path).map_err(|source| VisionError::Io {
            file: file.clone(),
            source,
        })?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| VisionError::Format {
            file: file.clone(),
            msg: e.to_string(),
        })?;
        let anchor = "patch_embed.proj.weight";
        let prefix = st
            .names()
            .into_iter()
            .find_map(|k| k.strip_suffix(anchor).map(str::to_string))
            .ok_or_else(|| VisionError::NoEncoder { file: file.clone() })?;
        let mut r = Reader {
            file: file.clone(),
            st,
            prefix,
            used: BTreeSet::new(),
        };
        let (d, p, m) = (cfg.width, cfg.patch_size, mlp_hidden(cfg));
        let mut enc = Self::new(cfg, device);

        let w = r.read(anchor, &[d, 3, 1, p, p])?;
        let w = Tensor::<B, 2>::from_data(TensorData::new(w, [d, 3 * p * p]), device).transpose();
        enc.patch_embed.weight = Param::from_tensor(w);
        enc.patch_embed.bias = Some(Param::from_tensor(r.vector(
            "patch_embed.proj.bias",
            d,
            device,
        )?));
        for (i, block) in enc.blocks.iter_mut().enumerate() {
            let b = format!("blocks.{i}");
            block.norm1 = r.norm(&format!("{b}.norm1"), block.norm1.clone(), d, device)?;
            block.norm2 = r.norm(&format!("{b}.norm2"), block.norm2.clone(), d, device)?;
            block.attn.qkv = r.linear(&format!("{b}.attn.qkv"), d, 3 * d, false, device)?;
            block.attn.q_bias =
                Param::from_tensor(r.vector(&format!("{b}.attn.q_bias"), d, device)?);
            block.attn.v_bias =
                Param::from_tensor(r.vector(&format!("{b}.attn.v_bias"), d, device)?);
            block.attn.proj = r.linear(&format!("{b}.attn.proj"), d, d, true, device)?;
            block.mlp.fc1 = r.linear(&format!("{b}.mlp.fc1"), d, m, true, device)?;
            block.mlp.fc2 = r.linear(&format!("{b}.mlp.fc2"), m, d, true, device)?;
        }
        let has_final =
            r.st.names()
                .iter()
                .any(|k| **k == format!("{}vision_layernorm.weight", r.prefix));
        let final_name = if has_final {
            "vision_layernorm"
        } else {
            "norm"
        };
        enc.vision_layernorm = r.norm(final_name, enc.vision_layernorm.clone(), d, device)?;

        let running = running_blocks(cfg);
        let skipped = |rest: &str| {
            rest == "pos_embed"
                || rest == "img_pos_embed"
                || rest
                    .strip_prefix("blocks.")
                    .and_then(|s| s.split('.').next()?.parse::<usize>().ok())
                    .is_some_and(|i| i >= running && i < cfg.depth)
        };
        let unexpected: Vec<String> =
            r.st.tensors()
                .into_iter()
                .filter_map(|(k, v)| {
                    let rest = k.strip_prefix(&r.prefix)?;
                    (!r.used.contains(&k) && !skipped(rest)).then(|| format!("{k} {:?}", v.shape()))
                })
                .collect();
        if !unexpected.is_empty() {
            return Err(VisionError::Unexpected {
                file,
                keys: unexpected,
            });
        }
        Ok(enc)
    }
}
