//! [`VideoLlm`]: encoder + connector + LLM as one module. Weightless steps (compression)
//! are passed in, so training and inference share these functions.

use burn::{
    module::{Module, ModuleVisitor, Param},
    prelude::*,
};
use hico_backend::HicoBackend;
use hico_core::{ClipCompressor, PatchGrid, VisionEncoder, VisualToken};
use hico_llm::CausalLm;
use hico_vision::{Connector, UmtEncoder};

/// The trainable parts of a hico model. Field names are the parts' names in stage configs
/// and checkpoints (`encoder`, `connector`, `llm`).
#[derive(Module, Debug)]
pub struct VideoLlm<B: Backend> {
    /// Space-time vision encoder.
    pub encoder: UmtEncoder<B>,
    /// Vision width → LLM width.
    pub connector: Connector<B>,
    /// Decoder LLM (any supported family).
    pub llm: CausalLm<B>,
}

/// Visual embeddings of some clips, ready to splice into the LLM input.
#[derive(Debug, Clone)]
pub struct VisualEmbeds<B: Backend> {
    /// `[n_tokens, llm_hidden]`.
    pub embeds: Tensor<B, 2>,
    /// Provenance of each row, clips numbered from `first_clip`.
    pub tokens: Vec<VisualToken>,
    /// Encoder tokens before compression (for stage summaries).
    pub encoder_tokens: usize,
    /// When asked for: per output token, the attention its patches received in the
    /// encoder's last block (the sum over its members of [`UmtEncoder::encode_with_attention`]).
    pub attention: Option<Vec<f32>>,
}

impl<B: HicoBackend> VideoLlm<B> {
    /// Encode, compress and connect clips.
    ///
    /// # Shapes
    /// - `clips`: `[n_clips, L, 3, H, W]` normalised pixels
    /// - returns embeds `[n_clips · k, llm_hidden]`
    pub fn visual_embeds(
        &self,
        clips: Tensor<B, 5>,
        compressor: &dyn ClipCompressor<B>,
        first_clip: usize,
    ) -> VisualEmbeds<B> {
        self.visual_embeds_with(clips, compressor, first_clip, false)
    }

    /// [`Self::visual_embeds`], with the attention each output token's patches received in
    /// the encoder's last block when `attention` is set (for methods such as VisionZip).
    pub fn visual_embeds_with(
        &self,
        clips: Tensor<B, 5>,
        compressor: &dyn ClipCompressor<B>,
        first_clip: usize,
        attention: bool,
    ) -> VisualEmbeds<B> {
        let [n_clips, l, _, h, w] = clips.dims();
        let grid: PatchGrid = self.encoder.grid(l, h, w);
        let (feats, received) = if attention {
            let (f, a) = self.encoder.encode_with_attention(clips);
            let a: Vec<f32> = a.into_data().convert::<f32>().into_vec().expect("f32 data");
            (f, Some(a))
        } else {
            (self.encoder.encode(clips), None)
        }; // [n_clips, L·h·w, Dv]
        let encoder_tokens = n_clips * grid.per_clip();
        let compressed = compressor.compress(feats, &grid); // [n_clips, k, Dv]
        let per_clip = grid.per_clip();
        let attention = received.map(|a| {
            compressed
                .members
                .iter()
                .enumerate()
                .flat_map(|(c, clip)| {
                    let a = &a[c * per_clip..(c + 1) * per_clip];
                    clip.iter()
                        .map(move |m| m.iter().map(|&p| a[p as usize]).sum::<f32>())
                })
                .collect()
        });
        let [_, k, dv] = compressed.features.dims();
        let flat = compressed.features.reshape([n_clips * k, dv]);
        let embeds = self.connector.forward(flat);
        let tokens = compressed
            .members
            .into_iter()
            .enumerate()
            .flat_map(|(c, clip)| {
                clip.into_iter()
                    .map(move |members| VisualToken::new((first_clip + c) as u32, members))
            })
            .collect();
        VisualEmbeds {
            embeds,
            tokens,
            encoder_tokens,
            attention,
        }
    }
}

struct Materialize;

impl<B: Backend> ModuleVisitor<B> for Materialize {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        let _ = p.val();
    }
}

/// Initialise every lazily initialised parameter of `model` in place. burn draws a lazy
/// parameter's values at its first use, and a *clone* of an uninitialised parameter draws
/// its own: without this, weights would depend on what ran first, and saving a clone of a
/// fresh model would write weights the model never uses.
pub fn materialize<B: Backend, M: Module<B>>(model: &M) {
    model.visit(&mut Materialize);
}
