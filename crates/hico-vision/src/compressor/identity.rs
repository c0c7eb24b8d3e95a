//! The `identity` compressor: every patch token passes through, in space-time order.

use burn::tensor::Tensor;
use hico_backend::HicoBackend;
use hico_core::{ClipCompressor, CompressedClips, PatchGrid};

/// Keeps every token.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl<B: HicoBackend> ClipCompressor<B> for Identity {
    fn output_tokens(&self, grid: &PatchGrid) -> usize {
        grid.per_clip()
    }

    /// # Shapes
    /// - `tokens`: `[n, L·h·w, D]`; returns the same tensor
    fn compress(&self, tokens: Tensor<B, 3>, grid: &PatchGrid) -> CompressedClips<B> {
        let n = tokens.dims()[0];
        let one: Vec<Vec<u32>> = (0..grid.per_clip() as u32).map(|i| vec![i]).collect();
        CompressedClips {
            features: tokens,
            members: vec![one; n],
        }
    }
}
