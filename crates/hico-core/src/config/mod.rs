//! TOML configuration of a pipeline: one section per component, each selected by
//! `kind = "..."` where the component has several implementations.
//!
//! Every struct rejects unknown keys. Errors name the file, the dotted key and what was
//! expected (see [`load_toml`]). Defaults follow the reference (DESIGN.md) where it has one.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::{KeepRule, PositionMode};

mod load;
mod validate;

pub use load::{from_value, load_toml, parse_toml, set_dotted};

/// A whole pipeline: what `hico run`, `hico encode` and the ablation runner read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Free-form name, used in output folders and tables.
    #[serde(default)]
    pub name: String,
    /// Seed for random initialisation and sampling.
    #[serde(default)]
    pub seed: u64,
    /// Frame preprocessing.
    #[serde(default)]
    pub video: VideoConfig,
    /// Frame sampler.
    pub sampler: SamplerConfig,
    /// Vision encoder.
    pub vision: VisionConfig,
    /// Clip compressor.
    pub compressor: CompressorConfig,
    /// Connector from vision width to LLM width.
    #[serde(default)]
    pub connector: ConnectorConfig,
    /// Decoder LLM.
    pub llm: LlmConfig,
    /// Progressive visual-token dropout inside the LLM.
    #[serde(default)]
    pub dropout: DropoutConfig,
    /// Prompt construction.
    #[serde(default)]
    pub prompt: PromptConfig,
    /// Decoding.
    #[serde(default)]
    pub generation: GenerationConfig,
}

/// Frame preprocessing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VideoConfig {
    /// Square input resolution in pixels (frames are resized without crop): 224 or 448.
    pub size: usize,
    /// Frames per clip (L) seen together by the encoder.
    pub clip_len: usize,
    /// Per-channel mean for normalisation (ImageNet by default).
    pub mean: [f32; 3],
    /// Per-channel standard deviation for normalisation (ImageNet by default).
    pub std: [f32; 3],
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            size: 224,
            clip_len: 4,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

/// Frame sampler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SamplerConfig {
    /// The paper's rule: ~1 frame per second, a multiple of the clip length, clamped to
    /// `[t_min, t_max]`, segment middles.
    Duration {
        /// Lower bound on frames (64 in the reference's long-video stages).
        #[serde(default = "default_t_min")]
        t_min: usize,
        /// Upper bound on frames (512 in the reference).
        #[serde(default = "default_t_max")]
        t_max: usize,
    },
    /// A fixed number of frames, segment middles.
    Uniform {
        /// Number of frames (a multiple of the clip length).
        frames: usize,
    },
    /// A fixed rate, clamped to `[min_frames, max_frames]`.
    Fps {
        /// Frames per second of video.
        fps: f64,
        /// Lower bound on frames.
        #[serde(default = "default_clip")]
        min_frames: usize,
        /// Upper bound on frames.
        #[serde(default = "default_t_max")]
        max_frames: usize,
    },
}

fn default_t_min() -> usize {
    64
}
fn default_t_max() -> usize {
    512
}
fn default_clip() -> usize {
    4
}

/// Space-time ViT encoder (UMT-style).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VisionConfig {
    /// Token width (1024 for UMT-L).
    pub width: usize,
    /// Transformer blocks (24 for UMT-L).
    pub depth: usize,
    /// Attention heads (16 for UMT-L).
    pub heads: usize,
    /// MLP width as a multiple of `width`.
    #[serde(default = "default_mlp_ratio")]
    pub mlp_ratio: f64,
    /// Patch size in pixels.
    #[serde(default = "default_patch")]
    pub patch_size: usize,
    /// Number of blocks run before the output LayerNorm (UMT-L: 23 of 24). 0 means all.
    #[serde(default)]
    pub output_blocks: usize,
    /// LayerNorm epsilon.
    #[serde(default = "default_ln_eps")]
    pub ln_eps: f64,
    /// Side of the position-embedding grid the sinusoid table is defined on (14 = 224/16);
    /// other resolutions interpolate from it.
    #[serde(default = "default_pos_grid")]
    pub pos_grid: usize,
    /// Safetensors checkpoint with the reference key names; random init when absent.
    #[serde(default)]
    pub checkpoint: Option<PathBuf>,
}

fn default_mlp_ratio() -> f64 {
    4.0
}
fn default_patch() -> usize {
    16
}
fn default_ln_eps() -> f64 {
    1e-6
}
fn default_pos_grid() -> usize {
    14
}

/// Clip compressor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum CompressorConfig {
    /// Keep every patch token.
    Identity,
    /// Bipartite soft matching (the paper's), reference output order.
    Tome {
        /// Output tokens per frame (the clip keeps `tokens_per_frame · L`).
        #[serde(default = "default_tpf")]
        tokens_per_frame: usize,
    },
    /// The same merges as `tome`, output in space-time order.
    TomeOrdered {
        /// Output tokens per frame.
        #[serde(default = "default_tpf")]
        tokens_per_frame: usize,
    },
    /// Spatial average pooling of each frame to a grid.
    Pool {
        /// Output tokens per frame; must be a square number (16 → 4×4).
        #[serde(default = "default_tpf")]
        tokens_per_frame: usize,
    },
    /// Merge a patch into the same patch of the neighbouring frame when similar.
    Temporal {
        /// Output tokens per frame (the budget per clip is `tokens_per_frame · L`).
        #[serde(default = "default_tpf")]
        tokens_per_frame: usize,
        /// Cosine similarity above which temporal neighbours merge before anything else.
        #[serde(default = "default_threshold")]
        threshold: f32,
    },
}

fn default_tpf() -> usize {
    16
}
fn default_threshold() -> f32 {
    0.9
}

impl CompressorConfig {
    /// The `kind` tag, for tables and folder names.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Tome { .. } => "tome",
            Self::TomeOrdered { .. } => "tome_ordered",
            Self::Pool { .. } => "pool",
            Self::Temporal { .. } => "temporal",
        }
    }
}

/// Connector from vision width to LLM width.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ConnectorConfig {
    /// Linear, GELU, Linear (the paper's).
    #[default]
    Mlp2xGelu,
    /// One Linear.
    Linear,
}

/// Decoder LLM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LlmConfig {
    /// A Hugging Face model directory (config.json, safetensors, tokenizer.json).
    Hf {
        /// The directory.
        path: PathBuf,
    },
    /// A randomly initialised Qwen2 of the given shape (tests, tiny experiments).
    Random {
        /// Hidden width.
        hidden_size: usize,
        /// MLP inner width.
        intermediate_size: usize,
        /// Decoder layers.
        num_hidden_layers: usize,
        /// Query heads.
        num_attention_heads: usize,
        /// Key/value heads.
        num_key_value_heads: usize,
        /// Rotary base.
        #[serde(default = "default_rope_theta")]
        rope_theta: f64,
        /// RMSNorm epsilon.
        #[serde(default = "default_rms_eps")]
        rms_norm_eps: f64,
        /// Share the embedding matrix with the output head.
        #[serde(default = "default_true")]
        tie_word_embeddings: bool,
        /// `"byte_level"` (a 256-byte BPE with the Qwen special tokens, built in) or the
        /// path of a `tokenizer.json`.
        #[serde(default = "default_tokenizer")]
        tokenizer: String,
    },
}

fn default_rope_theta() -> f64 {
    1_000_000.0
}
fn default_rms_eps() -> f64 {
    1e-6
}
fn default_true() -> bool {
    true
}
fn default_tokenizer() -> String {
    "byte_level".into()
}

/// Progressive visual-token dropout inside the LLM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DropoutConfig {
    /// Drop nothing.
    #[default]
    None,
    /// Keep evenly spaced visual tokens at each stage.
    Uniform(StagedDrop),
    /// Keep the visual tokens the query attends to most (the reference rule).
    Attention(StagedDrop),
    /// Uniform at the first stage, attention after (the released model's).
    Uniform0Attention(StagedDrop),
    /// FastV: after layer `layer`, drop a fraction `ratio` by attention.
    Fastv(FastvDrop),
    /// PyramidDrop-style attention stages (default: 0.5, 0.25, 0.125 after 8, 16, 24).
    Pyramid(StagedDrop),
}

impl DropoutConfig {
    /// The `kind` tag, for tables and folder names.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Uniform(_) => "uniform",
            Self::Attention(_) => "attention",
            Self::Uniform0Attention(_) => "uniform0_attention",
            Self::Fastv(_) => "fastv",
            Self::Pyramid(_) => "pyramid",
        }
    }
}

/// Staged drop: after each 1-based layer in `layers`, keep `ratios[s+1]` of the ORIGINAL
/// visual count (`ratios[0]` is the input, 1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedDrop {
    /// 1-based layers after which to drop.
    #[serde(default = "default_layers")]
    pub layers: Vec<usize>,
    /// Fractions of the original count, one more than `layers`, starting with 1.0.
    #[serde(default = "default_ratios")]
    pub ratios: Vec<f64>,
    /// Position handling after a drop.
    #[serde(default)]
    pub positions: PositionMode,
}

fn default_layers() -> Vec<usize> {
    vec![8, 16, 24]
}
fn default_ratios() -> Vec<f64> {
    vec![1.0, 0.5, 0.25, 0.125]
}

/// FastV: one attention-ranked drop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FastvDrop {
    /// 1-based layer after which to drop (2 in FastV).
    #[serde(default = "default_fastv_layer")]
    pub layer: usize,
    /// Fraction of the visual tokens to DROP (0.5 in FastV).
    #[serde(default = "default_fastv_ratio")]
    pub ratio: f64,
    /// Position handling after a drop.
    #[serde(default)]
    pub positions: PositionMode,
}

fn default_fastv_layer() -> usize {
    2
}
fn default_fastv_ratio() -> f64 {
    0.5
}

/// Prompt construction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PromptConfig {
    /// System message of the chat template.
    pub system: String,
    /// Timestamp sentence after the video: `duration` (the short one), `per_frame` (lists
    /// every frame's time) or `none`.
    pub timestamps: TimestampStyle,
}

impl Default for PromptConfig {
    fn default() -> Self {
        Self {
            system: "You are a helpful assistant.".into(),
            timestamps: TimestampStyle::Duration,
        }
    }
}

/// Which timestamp sentence follows the video placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimestampStyle {
    /// `The video lasts for D seconds, and T frames are uniformly sampled from it.`
    Duration,
    /// `... frames are uniformly sampled at s1, s2, ... seconds.`
    PerFrame,
    /// No sentence.
    None,
}

/// Decoding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerationConfig {
    /// Tokens to generate at most.
    pub max_new_tokens: usize,
    /// 0 means greedy.
    pub temperature: f64,
    /// Nucleus sampling mass (1.0 = off).
    pub top_p: f64,
    /// Sampling seed.
    pub seed: u64,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 32,
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

/// A schedule's stages in one normal form: after `layers[s]`, keep `ratios[s+1]` of the
/// original visual count, ranked by `rules[s]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    /// 1-based layers after which to drop.
    pub layers: Vec<usize>,
    /// Fractions of the original count, `layers.len() + 1` of them, from 1.0.
    pub ratios: Vec<f64>,
    /// Ranking rule of each stage.
    pub rules: Vec<KeepRule>,
    /// Position handling.
    pub positions: PositionMode,
}

/// The stages of a dropout config (`None` for `kind = "none"`).
pub fn staged(cfg: &DropoutConfig) -> Option<Stages> {
    use KeepRule::*;
    let make = |s: &StagedDrop, first: KeepRule, rest: KeepRule| Stages {
        layers: s.layers.clone(),
        ratios: s.ratios.clone(),
        rules: (0..s.layers.len())
            .map(|i| if i == 0 { first } else { rest })
            .collect(),
        positions: s.positions,
    };
    match cfg {
        DropoutConfig::None => None,
        DropoutConfig::Uniform(s) => Some(make(s, Uniform, Uniform)),
        DropoutConfig::Attention(s) | DropoutConfig::Pyramid(s) => {
            Some(make(s, Attention, Attention))
        }
        DropoutConfig::Uniform0Attention(s) => Some(make(s, Uniform, Attention)),
        DropoutConfig::Fastv(f) => Some(Stages {
            layers: vec![f.layer],
            ratios: vec![1.0, 1.0 - f.ratio],
            rules: vec![Attention],
            positions: f.positions,
        }),
    }
}
