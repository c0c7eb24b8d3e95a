//! The UMT key map ([`Weights`] for [`UmtEncoder`]) and loading a UMT checkpoint file.
//!
//! Under a prefix `P` (`encoder.` in the UMT `.pt` converted to safetensors,
//! `model.vision_tower.vision_tower.encoder.` in a VideoChat-Flash release):
//!
//! | reference key | hico field | layout |
//! |---|---|---|
//! | `P.patch_embed.proj.weight` `[D, 3, 1, p, p]` | `patch_embed.weight` `[3p², D]` | flatten, transpose |
//! | `P.patch_embed.proj.bias` | `patch_embed.bias` | |
//! | `P.blocks.i.norm{1,2}.{weight,bias}` | `blocks[i].norm{1,2}.{gamma,beta}` | |
//! | `P.blocks.i.attn.qkv.weight` `[3D, D]` | `blocks[i].attn.qkv.weight` | transpose |
//! | `P.blocks.i.attn.{q,v}_bias` | `blocks[i].attn.{q,v}_bias` | |
//! | `P.blocks.i.attn.proj.{weight,bias}` | `blocks[i].attn.proj` | transpose weight |
//! | `P.blocks.i.mlp.fc{1,2}.{weight,bias}` | `blocks[i].mlp.fc{1,2}` | transpose weight |
//! | `P.vision_layernorm.{weight,bias}` | `vision_layernorm` | |
//!
//! Only the blocks that run are visited (a release stores exactly those: the reference builds
//! `depth + select_layer + 1` blocks). [`UmtEncoder::load`] reads a UMT checkpoint file:
//! it finds `P` from the key ending in `patch_embed.proj.weight`, accepts the pretraining
//! name `P.norm.*` for the final LayerNorm, and ignores `P.pos_embed` / `P.img_pos_embed`
//! (the table is recomputed), the blocks past `output_blocks` and every key outside `P`.

use hico_backend::HicoBackend;
use std::path::Path;

use burn::module::Param;
use burn::tensor::{Device, Tensor};
use hico_core::config::VisionConfig;
use hico_weights::{Layout, Loader, WeightFiles, WeightVisitor, Weights};

use super::{UmtEncoder, running_blocks};
use crate::VisionError;

impl<B: HicoBackend> Weights<B> for UmtEncoder<B> {
    fn walk<V: WeightVisitor<B>>(&mut self, prefix: &str, v: &mut V) {
        let [in_, d] = self.patch_embed.weight.lazy_shape().dims();
        let p = self.patch;
        debug_assert_eq!(in_, 3 * p * p);
        let file = Layout::FlattenTransposed(vec![d, 3, 1, p, p]);
        v.param(
            &format!("{prefix}patch_embed.proj.weight"),
            &mut self.patch_embed.weight,
            file,
        );
        if let Some(b) = self.patch_embed.bias.as_mut() {
            v.param(&format!("{prefix}patch_embed.proj.bias"), b, Layout::Same);
        }
        for (i, blk) in self.blocks.iter_mut().enumerate() {
            let k = |name: &str| format!("{prefix}blocks.{i}.{name}");
            v.layer_norm(&k("norm1"), &mut blk.norm1);
            v.linear(&k("attn.qkv"), &mut blk.attn.qkv);
            v.param(&k("attn.q_bias"), &mut blk.attn.q_bias, Layout::Same);
            v.param(&k("attn.v_bias"), &mut blk.attn.v_bias, Layout::Same);
            v.linear(&k("attn.proj"), &mut blk.attn.proj);
            v.layer_norm(&k("norm2"), &mut blk.norm2);
            v.linear(&k("mlp.fc1"), &mut blk.mlp.fc1);
            v.linear(&k("mlp.fc2"), &mut blk.mlp.fc2);
        }
        v.layer_norm(
            &format!("{prefix}vision_layernorm"),
            &mut self.vision_layernorm,
        );
    }
}

/// A visitor that reads some keys under other names (`from` prefix → `to` prefix), e.g. the
/// pretraining checkpoint's `encoder.norm.*` for `encoder.vision_layernorm.*`.
struct Renamed<'a, V> {
    inner: &'a mut V,
    from: String,
    to: String,
}

impl<B: HicoBackend, V: WeightVisitor<B>> WeightVisitor<B> for Renamed<'_, V> {
    fn param<const D: usize>(
        &mut self,
        key: &str,
        param: &mut Param<Tensor<B, D>>,
        layout: Layout,
    ) {
        match key.strip_prefix(&self.from) {
            Some(rest) => self
                .inner
                .param(&format!("{}{rest}", self.to), param, layout),
            None => self.inner.param(key, param, layout),
        }
    }
}

impl<B: HicoBackend> UmtEncoder<B> {
    /// Load from a UMT safetensors file with the reference key names (see the module docs).
    /// Every missing, unexpected or mis-shaped tensor under the encoder's prefix is reported
    /// at once.
    pub fn load(cfg: &VisionConfig, path: &Path, device: &Device<B>) -> Result<Self, VisionError> {
        let files = WeightFiles::open(&[path.to_path_buf()])?;
        let anchor = "patch_embed.proj.weight";
        let prefix = files
            .keys()
            .find_map(|k| k.strip_suffix(anchor).map(str::to_string))
            .ok_or_else(|| VisionError::NoEncoder {
                file: path.to_path_buf(),
            })?;
        let mut enc = Self::new(cfg, device);
        let mut loader = Loader::new(&files, device);
        let final_ln = format!("{prefix}vision_layernorm.");
        if files.info(&format!("{final_ln}weight")).is_none()
            && files.info(&format!("{prefix}norm.weight")).is_some()
        {
            let mut renamed = Renamed {
                inner: &mut loader,
                from: final_ln,
                to: format!("{prefix}norm."),
            };
            enc.walk(&prefix, &mut renamed);
        } else {
            enc.walk(&prefix, &mut loader);
        }
        let running = running_blocks(cfg);
        loader.finish(|key| match key.strip_prefix(&prefix) {
            None => true,
            Some(rest) => skipped_key(rest, running, cfg.depth),
        })?;
        Ok(enc)
    }
}

/// Keys under the encoder prefix that a UMT checkpoint may hold and hico never reads: the
/// position tables (recomputed) and the blocks from `running` to `depth − 1`.
fn skipped_key(rest: &str, running: usize, depth: usize) -> bool {
    rest == "pos_embed"
        || rest == "img_pos_embed"
        || rest
            .strip_prefix("blocks.")
            .and_then(|s| s.split('.').next()?.parse::<usize>().ok())
            .is_some_and(|i| i >= running && i < depth)
}
