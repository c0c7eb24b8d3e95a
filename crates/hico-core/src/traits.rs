//! The component traits of the pipeline. Components without weights (sampler, compressor,
//! dropout schedule) are small object-safe traits built from a serde config enum into a
//! `Box<dyn Trait>`; components with weights (encoder, connector, LLM) are burn modules
//! built from a config with `init(device)`, and implement the traits here so the pipeline
//! can be written against them.

use burn::tensor::{Int, Tensor, backend::Backend};
use serde::{Deserialize, Serialize};

use crate::{CoreError, PatchGrid, RetentionTrace, trace::AttentionCapture};

// ---------------------------------------------------------------------------------------
// Sampler

/// What a sampler needs to know about a video.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    /// Number of frames in the video.
    pub n_frames: usize,
    /// Average frame rate (frames per second).
    pub fps: f64,
    /// Duration in seconds.
    pub duration: f64,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
}

/// The frames a sampler chose.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FramePlan {
    /// Source frame indices, in order (may repeat the last index as padding).
    pub indices: Vec<usize>,
    /// Timestamp in seconds of each chosen frame (`index / fps`).
    pub timestamps: Vec<f64>,
    /// Duration of the video in seconds.
    pub duration: f64,
}

impl FramePlan {
    /// Number of sampled frames T.
    pub fn len(&self) -> usize {
        self.indices.len()
    }
    /// Whether no frame was chosen.
    pub fn is_empty(&self) -> bool {
        self.indices.is_empty()
    }
}

/// Chooses which frames of a video the model sees.
pub trait Sampler: Send + Sync + std::fmt::Debug {
    /// Choose frames. The count is a multiple of the clip length.
    fn sample(&self, info: &VideoInfo) -> Result<FramePlan, CoreError>;
}

// ---------------------------------------------------------------------------------------
// Vision encoder

/// Encodes clips of frames into space-time patch tokens.
pub trait VisionEncoder<B: Backend> {
    /// Output feature width.
    fn width(&self) -> usize;
    /// Patch grid of a clip of `frames` frames at `height × width` pixels.
    fn grid(&self, frames: usize, height: usize, width: usize) -> PatchGrid;
    /// Encode clips.
    ///
    /// # Shapes
    /// - `clips`: `[n_clips, L, 3, H, W]`, normalised pixels
    /// - returns `[n_clips, L·h·w, width]` in space-time order (patch id `t·h·w + p`)
    fn encode(&self, clips: Tensor<B, 5>) -> Tensor<B, 3>;
}

// ---------------------------------------------------------------------------------------
// Clip compressor

/// Clips after compression: features plus, for every output token, the clip-local patch
/// ids merged into it (see [`crate::provenance`]).
#[derive(Debug, Clone)]
pub struct CompressedClips<B: Backend> {
    /// `[n_clips, k, D]`.
    pub features: Tensor<B, 3>,
    /// `members[c][j]`: sorted clip-local patch ids of output token `j` of clip `c`.
    pub members: Vec<Vec<Vec<u32>>>,
}

/// Reduces the tokens of each clip to a fixed budget. Differentiable in the features
/// (merges are weighted means), so gradients reach the encoder during training.
pub trait ClipCompressor<B: Backend>: Send + Sync + std::fmt::Debug {
    /// Output tokens per clip for clips of this grid.
    fn output_tokens(&self, grid: &PatchGrid) -> usize;
    /// Compress.
    ///
    /// # Shapes
    /// - `tokens`: `[n_clips, grid.per_clip(), D]` in space-time order
    /// - returns features `[n_clips, output_tokens(grid), D]`
    fn compress(&self, tokens: Tensor<B, 3>, grid: &PatchGrid) -> CompressedClips<B>;
}

// ---------------------------------------------------------------------------------------
// Dropout schedule

/// How a drop stage ranks visual tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeepRule {
    /// Evenly spaced indices within the current visual block.
    Uniform,
    /// Top-k by the query tokens' softmax attention (next layer's norm, q/k, rotary).
    Attention,
}

/// Positions after a drop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PositionMode {
    /// Renumber positions contiguously after each drop (the reference).
    #[default]
    Renumber,
    /// Keep every surviving token's original position id.
    Keep,
}

/// One drop: after 1-based decoder layer `after_layer`, keep `keep` visual tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropStage {
    /// 1-based layer after which the drop happens (scored with layer `after_layer`'s
    /// successor, index `after_layer` 0-based).
    pub after_layer: usize,
    /// Visual tokens kept (a count of the ORIGINAL block, `int(N·ratio)`).
    pub keep: usize,
    /// Ranking rule.
    pub rule: KeepRule,
}

/// The drops to perform for one forward pass.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DropPlan {
    /// Stages in increasing layer order.
    pub stages: Vec<DropStage>,
    /// Position handling.
    pub positions: PositionMode,
    /// FrameFusion's data-dependent merge-then-prune (no `stages` then); needs the
    /// [`FrameLayout`] of the visual block.
    #[serde(default)]
    pub fusion: Option<crate::config::FrameFusionDrop>,
}

impl DropPlan {
    /// The plan that drops nothing.
    pub fn none() -> Self {
        Self::default()
    }

    /// Check that the visual block of an input can carry this plan: FrameFusion compares
    /// same-position tokens of consecutive frames, so it needs a `frames × per_frame` layout
    /// covering the `visual_len` tokens.
    pub fn check_layout(
        &self,
        layout: Option<FrameLayout>,
        visual_len: usize,
    ) -> Result<(), CoreError> {
        if self.fusion.is_none() {
            return Ok(());
        }
        match layout {
            None => Err(CoreError::Invalid(
                "dropout.kind = \"framefusion\" needs the frame layout of the visual block \
                 (frames × tokens per frame), which only a compressor that keeps per-frame \
                 grids gives; this input has none"
                    .into(),
            )),
            Some(l) if l.frames * l.per_frame != visual_len || l.per_frame == 0 => {
                Err(CoreError::Invalid(format!(
                    "dropout.kind = \"framefusion\": a layout of {} frames × {} tokens does \
                     not cover the {visual_len} visual tokens",
                    l.frames, l.per_frame
                )))
            }
            Some(_) => Ok(()),
        }
    }
}

/// How the visual block is laid out in frames: `frames` consecutive frames of `per_frame`
/// tokens each, token `p` of every frame at the same spatial position (frame-major).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrameLayout {
    /// Frames T.
    pub frames: usize,
    /// Tokens per frame N.
    pub per_frame: usize,
}

/// Decides which visual tokens leave the LLM after which layer. The LLM executes the plan.
pub trait DropoutSchedule: Send + Sync + std::fmt::Debug {
    /// The plan for a decoder of `n_layers` layers given `n_visual` visual tokens.
    fn plan(&self, n_layers: usize, n_visual: usize) -> DropPlan;
}

// ---------------------------------------------------------------------------------------
// Language model

/// Shape facts of a decoder, for ledgers and summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmShape {
    /// Vocabulary size.
    pub vocab: usize,
    /// Hidden width.
    pub hidden: usize,
    /// MLP inner width.
    pub intermediate: usize,
    /// Decoder layers.
    pub layers: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

/// One prefill request: a single sequence of input embeddings with its visual block.
#[derive(Debug, Clone)]
pub struct PrefillInput<B: Backend> {
    /// `[1, L, hidden]`.
    pub embeds: Tensor<B, 3>,
    /// Position in the sequence of the first visual token.
    pub visual_start: usize,
    /// Number of visual tokens (contiguous from `visual_start`).
    pub visual_len: usize,
    /// Which visual tokens leave after which layer.
    pub plan: DropPlan,
    /// Sequence positions of the query tokens used to score attention drops and captures
    /// (the last prompt token at inference).
    pub queries: Vec<usize>,
    /// 1-based layers whose attention to capture (empty: none).
    pub capture_layers: Vec<usize>,
    /// Frame layout of the visual block, when same-position tokens of the frames
    /// correspond (FrameFusion needs it).
    pub frames: Option<FrameLayout>,
    /// What the decode steps after this prefill do to the cached visual entries (the
    /// `[kv_cache]` section; `None` attends to all of them).
    pub kv_cache: crate::config::KvCacheConfig,
}

/// What a prefill returns.
#[derive(Debug, Clone)]
pub struct PrefillOutput<B: Backend> {
    /// Logits of the last position, `[1, vocab]`.
    pub last_logits: Tensor<B, 2>,
    /// Which visual tokens survived each layer.
    pub trace: RetentionTrace,
    /// Query attention over the sequence per captured layer, per visual token (original
    /// visual index) and summed over text tokens; the caller aggregates per frame.
    pub attention: Vec<LayerAttention>,
    /// Sequence length at each layer's input (1-based layer `l` at index `l-1`).
    pub seq_lens: Vec<usize>,
}

/// Raw attention capture of one layer (before per-frame aggregation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerAttention {
    /// 1-based layer.
    pub layer: usize,
    /// `(original visual index, mass)` for visual tokens present at this layer.
    pub visual: Vec<(u32, f32)>,
    /// Mass on text tokens.
    pub text: f32,
}

/// A causal decoder that accepts input embeddings (so visual tokens can be spliced in),
/// executes a [`DropPlan`] during prefill, and decodes with a cache.
pub trait LanguageModel<B: Backend> {
    /// Decoding state after a prefill (KV cache with its position counter).
    type Cache;
    /// Shape facts.
    fn shape(&self) -> LlmShape;
    /// Token embeddings: `[1, L] → [1, L, hidden]`.
    fn embed(&self, ids: Tensor<B, 2, Int>) -> Tensor<B, 3>;
    /// Run the prompt, dropping visual tokens as planned, and fill a cache.
    fn prefill(&self, input: PrefillInput<B>) -> (PrefillOutput<B>, Self::Cache);
    /// Feed one token and return the next-token logits `[1, vocab]`.
    fn decode_step(&self, token: u32, cache: &mut Self::Cache) -> Tensor<B, 2>;
    /// Visual cache entries each decode step so far attended to (at the layers a
    /// `[kv_cache]` method prunes); empty when the cache has no such method.
    fn visual_kv_per_step(&self, cache: &Self::Cache) -> Vec<usize> {
        let _ = cache;
        Vec::new()
    }
}

/// Convenience: attention capture, aggregated per sampled frame (used by the pipeline).
pub fn aggregate_attention(raw: &[LayerAttention], prov: &crate::Provenance) -> AttentionCapture {
    let n_frames = prov.n_frames();
    let mut out = AttentionCapture {
        frame_times: prov.frame_times.clone(),
        ..Default::default()
    };
    for la in raw {
        let mut row = vec![0f32; n_frames];
        for &(v, mass) in &la.visual {
            let frames = prov.sampled_frames(v as usize);
            let share = mass / frames.len() as f32;
            for f in frames {
                if f < n_frames {
                    row[f] += share;
                }
            }
        }
        out.layers.push(la.layer);
        out.per_frame.push(row);
        out.text.push(la.text);
    }
    out
}
