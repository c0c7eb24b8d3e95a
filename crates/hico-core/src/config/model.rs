//! Model components of a pipeline config: the vision encoder, the clip compressor, the
//! connector and the LLM (see the module docs of [`crate::config`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::AttentionImpl;

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

    /// Whether the output of each clip is `L` frames of row-major token grids (`identity`:
    /// the patch grid; `pool`: a `√k × √k` grid), so a whole-video method can see frames.
    pub fn keeps_frame_grid(&self) -> bool {
        matches!(self, Self::Identity | Self::Pool { .. })
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

/// Decoder LLM. Both kinds also take the attention keys `attention` and `attention_block`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LlmConfig {
    /// A Hugging Face model directory (config.json, safetensors, tokenizer.json); the family
    /// comes from its `model_type` (`hico_llm::supported_model_types()`).
    Hf {
        /// The directory.
        path: PathBuf,
        /// Attention implementation of inference.
        #[serde(default = "default_attention")]
        attention: AttentionImpl,
        /// Tile of hico's own attention (queries and keys per block).
        #[serde(default = "default_attention_block")]
        attention_block: usize,
    },
    /// A randomly initialised decoder of the given family and shape (tests, tiny
    /// experiments). Field names are the Hugging Face `config.json` names.
    Random {
        /// Model family: a Hugging Face `model_type` hico supports (`"qwen2"`, `"llama"`,
        /// `"qwen3"`).
        #[serde(default = "default_family")]
        family: String,
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
        /// Width of one head; `hidden_size / num_attention_heads` when absent.
        #[serde(default)]
        head_dim: Option<usize>,
        /// Rotary base.
        #[serde(default = "default_rope_theta")]
        rope_theta: f64,
        /// Rotary frequency scaling (Llama 3.x's `llama3`, or `linear`); none when absent.
        #[serde(default)]
        rope_scaling: Option<RopeScalingConfig>,
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
        /// Attention implementation of inference.
        #[serde(default = "default_attention")]
        attention: AttentionImpl,
        /// Tile of hico's own attention (queries and keys per block).
        #[serde(default = "default_attention_block")]
        attention_block: usize,
    },
}

impl LlmConfig {
    /// The attention implementation and tile (`attention`, `attention_block`).
    pub fn attention(&self) -> (AttentionImpl, usize) {
        match self {
            Self::Hf {
                attention,
                attention_block,
                ..
            }
            | Self::Random {
                attention,
                attention_block,
                ..
            } => (*attention, *attention_block),
        }
    }
}

/// Rotary frequency scaling, as Hugging Face's `rope_scaling` / `rope_parameters` write it
/// (`rope_type` selects the kind; absent means plain rotary). The `[llm]` key of a random
/// LLM, and the type hico-llm parses an HF `config.json` into.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rope_type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RopeScalingConfig {
    /// Every frequency divided by `factor`.
    Linear {
        /// Divisor of the frequencies.
        factor: f64,
    },
    /// Llama 3.x: low frequencies divided by `factor`, high ones kept, a smooth ramp between.
    Llama3 {
        /// Divisor of the low frequencies (8 in Llama 3.1).
        factor: f64,
        /// Wavelengths above `original_max_position_embeddings / low_freq_factor` are scaled.
        low_freq_factor: f64,
        /// Wavelengths below `original_max_position_embeddings / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// Context length of pre-training (8,192 in Llama 3.1).
        original_max_position_embeddings: usize,
    },
}

/// `HICO_ATTENTION` when set (see [`crate::config::attention_impl`]), else `own`: the
/// environment variable is the default of configs that do not set `attention`, and the
/// resolved value is what every run records in its `config.json`.
fn default_attention() -> AttentionImpl {
    crate::config::attention_impl()
}
/// `HICO_ATTENTION_BLOCK` when set, else 256 (see [`crate::config::attention_block`]).
fn default_attention_block() -> usize {
    crate::config::attention_block()
}
fn default_family() -> String {
    "qwen2".into()
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
