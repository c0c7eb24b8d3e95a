//! The UMT-style space-time ViT (`umt/vit.py` of the reference): a per-frame patch
//! embedding (Conv3d with kernel `(1, p, p)`, stored here as a Linear over flattened
//! `(c, ky, kx)` patches), the fixed sinusoidal space-time position embedding
//! ([`pos_embed`]), `output_blocks` pre-norm blocks with full attention over all `L·h·w`
//! tokens of a clip, then a LayerNorm with eps 1e-12 (`vision_layernorm`).
//!
//! UMT-L: width 1024, depth 24, 16 heads, MLP ratio 4, patch 16, block LayerNorm eps 1e-6,
//! output after 23 of 24 blocks (`return_idx = -2`), position grid 14 (224 px; 448 px
//! interpolates to 28 × 28). The 23 blocks built hold 290,479,104 parameters (303,074,304 for
//! all 24, see the unit test).

mod block;
mod load;
pub mod pos_embed;

pub use block::{Attention, Block, Mlp};

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData, backend::Backend};
use hico_backend::HicoBackend;
use hico_backend::nn::RowLinear;
use hico_core::config::VisionConfig;
use hico_core::{PatchGrid, VisionEncoder};

/// LayerNorm eps of the final `vision_layernorm` (fixed in the reference).
pub const FINAL_LN_EPS: f64 = 1e-12;

/// UMT-style space-time ViT, configured by [`VisionConfig`].
#[derive(Module, Debug)]
pub struct UmtEncoder<B: Backend> {
    /// Patch embedding `[3·p·p, D]` with bias (the reference's Conv3d, flattened).
    pub patch_embed: Linear<B>,
    /// The blocks that run (`output_blocks` of them, or `depth` when that is 0).
    pub blocks: Vec<Block<B>>,
    /// Final LayerNorm (eps 1e-12).
    pub vision_layernorm: LayerNorm<B>,
    /// Patch size in pixels.
    pub patch: usize,
    /// Side of the position-table grid.
    pub pos_grid: usize,
}

impl<B: HicoBackend> UmtEncoder<B> {
    /// The same encoder with its attention implementation set: the pipeline passes its
    /// `[llm] attention` so one recorded key decides the whole model's attention.
    pub fn with_attention(mut self, implementation: hico_core::config::AttentionImpl) -> Self {
        for b in &mut self.blocks {
            b.attn.attention = implementation;
        }
        self
    }
}

/// Blocks that run for a config (`output_blocks`, or all when 0).
pub fn running_blocks(cfg: &VisionConfig) -> usize {
    if cfg.output_blocks == 0 {
        cfg.depth
    } else {
        cfg.output_blocks
    }
}

/// MLP hidden width of a config (`int(width · mlp_ratio)` as the reference).
pub fn mlp_hidden(cfg: &VisionConfig) -> usize {
    (cfg.width as f64 * cfg.mlp_ratio) as usize
}

/// Parameters of an encoder with `blocks` blocks, without allocating it.
pub fn param_count(cfg: &VisionConfig, blocks: usize) -> usize {
    let (d, m, p) = (cfg.width, mlp_hidden(cfg), cfg.patch_size);
    let block = 2 * 2 * d + (3 * d * d + 2 * d) + (d * d + d) + (d * m + m) + (m * d + d);
    (3 * p * p * d + d) + blocks * block + 2 * d
}

impl<B: HicoBackend> UmtEncoder<B> {
    /// A randomly initialised encoder.
    pub fn new(cfg: &VisionConfig, device: &Device<B>) -> Self {
        let p = cfg.patch_size;
        let hidden = mlp_hidden(cfg);
        Self {
            patch_embed: LinearConfig::new(3 * p * p, cfg.width).init(device),
            blocks: (0..running_blocks(cfg))
                .map(|_| Block::new(cfg.width, cfg.heads, hidden, cfg.ln_eps, device))
                .collect(),
            vision_layernorm: LayerNormConfig::new(cfg.width)
                .with_epsilon(FINAL_LN_EPS)
                .init(device),
            patch: p,
            pos_grid: cfg.pos_grid,
        }
    }

    /// Flattened patches of every frame.
    ///
    /// # Shapes
    /// - `clips`: `[n, L, 3, H, W]`; returns `[n, L·h·w, 3·p·p]` in `(c, ky, kx)` order
    fn patches(&self, clips: Tensor<B, 5>) -> Tensor<B, 3> {
        let [n, l, c, hh, ww] = clips.dims();
        let p = self.patch;
        let (h, w) = (hh / p, ww / p);
        clips
            .slice([0..n, 0..l, 0..c, 0..h * p, 0..w * p])
            .reshape([n * l, c, h, p, w, p])
            .permute([0, 2, 4, 1, 3, 5])
            .reshape([n, l * h * w, c * p * p])
    }

    /// [`VisionEncoder::encode`], and the attention each token receives in the last block
    /// that runs ([`Attention::received`](block::Attention::received), averaged over heads and
    /// query tokens, computed a block of query rows at a time).
    ///
    /// # Shapes
    /// - `clips`: `[n_clips, L, 3, H, W]`; returns `[n_clips, L·h·w, width]` and `[n_clips, L·h·w]`
    pub fn encode_with_attention(&self, clips: Tensor<B, 5>) -> (Tensor<B, 3>, Tensor<B, 2>) {
        let (x, a) = self.encode_inner(clips, true);
        (x, a.expect("asked for"))
    }

    fn encode_inner(
        &self,
        clips: Tensor<B, 5>,
        attention: bool,
    ) -> (Tensor<B, 3>, Option<Tensor<B, 2>>) {
        let [_, l, _, hh, ww] = clips.dims();
        let grid = self.grid(l, hh, ww);
        let device = clips.device();
        let mut x =
            self.patch_embed.forward_rows(self.patches(clips)) + self.pos_embed(&grid, &device);
        let mut received = None;
        for (i, block) in self.blocks.iter().enumerate() {
            if attention && i + 1 == self.blocks.len() {
                received = Some(block.received(x.clone()));
            }
            x = block.forward(x);
        }
        (self.vision_layernorm.forward(x), received)
    }

    /// The position embedding for a grid, `[1, L·h·w, D]`.
    pub fn pos_embed(&self, grid: &PatchGrid, device: &Device<B>) -> Tensor<B, 3> {
        let d = self.vision_layernorm.gamma.dims()[0];
        let table = pos_embed::clip_pos_embed(grid.frames, self.pos_grid, grid.h, grid.w, d);
        Tensor::from_data(TensorData::new(table, [1, grid.per_clip(), d]), device)
    }
}

impl<B: HicoBackend> VisionEncoder<B> for UmtEncoder<B> {
    fn width(&self) -> usize {
        self.vision_layernorm.gamma.dims()[0]
    }

    fn grid(&self, frames: usize, height: usize, width: usize) -> PatchGrid {
        PatchGrid {
            frames,
            h: height / self.patch,
            w: width / self.patch,
        }
    }

    /// # Shapes
    /// - `clips`: `[n_clips, L, 3, H, W]`; returns `[n_clips, L·h·w, width]`
    fn encode(&self, clips: Tensor<B, 5>) -> Tensor<B, 3> {
        self.encode_inner(clips, false).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hico_backend::{Cpu, cpu_device};

    fn cfg(width: usize, depth: usize, heads: usize, output_blocks: usize) -> VisionConfig {
        VisionConfig {
            width,
            depth,
            heads,
            mlp_ratio: 4.0,
            patch_size: 16,
            output_blocks,
            ln_eps: 1e-6,
            pos_grid: 14,
            checkpoint: None,
        }
    }

    #[test]
    fn umt_l_parameter_count() {
        let c = cfg(1024, 24, 16, 23);
        // Known UMT-L (ViT-L/16, qkv as q/v biases only, final LN): 12,595,200 per block, 303.07M for 24.
        assert_eq!(param_count(&c, 24), 303_074_304);
        assert_eq!(param_count(&c, running_blocks(&c)), 290_479_104);
        // The formula matches a real allocation on a small config.
        let small = cfg(32, 3, 2, 2);
        let enc = UmtEncoder::<Cpu>::new(&small, &cpu_device());
        assert_eq!(enc.num_params(), param_count(&small, 2));
        assert_eq!(enc.blocks.len(), 2);
    }

    #[test]
    fn encode_shapes() {
        let mut c = cfg(32, 2, 2, 0);
        c.pos_grid = 2;
        let enc = UmtEncoder::<Cpu>::new(&c, &cpu_device());
        let x = Tensor::<Cpu, 5>::ones([2, 3, 3, 48, 32], &cpu_device());
        assert_eq!(enc.encode(x).dims(), [2, 3 * 3 * 2, 32]);
        assert_eq!(
            enc.grid(4, 448, 448),
            PatchGrid {
                frames: 4,
                h: 28,
                w: 28
            }
        );
    }

    #[test]
    fn attention_is_chosen_by_the_config_and_every_form_agrees() {
        use hico_core::config::AttentionImpl;
        let mut c = cfg(32, 2, 2, 0);
        c.pos_grid = 2;
        let dev = cpu_device();
        let own = UmtEncoder::<Cpu>::new(&c, &dev);
        let x = Tensor::<Cpu, 5>::random(
            [1, 2, 3, 32, 32],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        // Encode first: burn initialises parameters lazily, and a clone taken before that
        // would draw its own weights.
        let a = own.encode(x.clone());
        let fused = own.clone().with_attention(AttentionImpl::Fused);
        assert!(
            fused
                .blocks
                .iter()
                .all(|b| b.attn.attention == AttentionImpl::Fused)
        );
        assert!(
            own.blocks
                .iter()
                .all(|b| b.attn.attention == AttentionImpl::Own)
        );
        let b = fused.encode(x);
        let diff = (a - b).abs().max().into_scalar();
        assert!(diff < 1e-4, "fused vs own attention: max |diff| {diff}");
        let back = fused.with_attention(AttentionImpl::Own);
        assert!(
            back.blocks
                .iter()
                .all(|b| b.attn.attention == AttentionImpl::Own)
        );
        // `own` took the CPU kernel; `composed` is the product of burn ops.
        let composed = back.with_attention(AttentionImpl::Composed);
        assert!(
            composed
                .blocks
                .iter()
                .all(|b| b.attn.attention == AttentionImpl::Composed)
        );
        let x = Tensor::<Cpu, 5>::random(
            [1, 2, 3, 32, 32],
            burn::tensor::Distribution::Normal(0.0, 1.0),
            &dev,
        );
        let diff = (own.encode(x.clone()) - composed.encode(x))
            .abs()
            .max()
            .into_scalar();
        assert!(
            diff < 1e-4,
            "kernel vs composed attention: max |diff| {diff}"
        );
    }
}
