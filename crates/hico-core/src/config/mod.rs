//! TOML configuration of a pipeline: one section per component, each selected by
//! `kind = "..."` where the component has several implementations.
//!
//! Every struct rejects unknown keys. Errors name the file, the dotted key and what was
//! expected (see [`load_toml`]). Defaults follow the reference (docs/design.md) where it has one.
//! [`PipelineConfig::validate`] checks values, then the config against its model
//! ([`PipelineConfig::check_model`]: dropout layers within the LLM's depth, ratios that keep
//! tokens). Whether hico-llm has the decoder family of a Hugging Face directory is checked
//! where the families are listed (`hico_model::load_config`, with hico-llm's table).

use serde::{Deserialize, Serialize};

pub mod attention;
mod dropout;
mod kv_cache;
mod load;
mod model;
pub mod release;
mod semantic;
mod validate;

pub use attention::{AttentionImpl, DEFAULT_ATTENTION_BLOCK, attention_block, attention_impl};
pub use dropout::*;
pub use kv_cache::*;
pub use load::{from_value, load_toml, parse_toml, parse_toml_value, set_dotted};
pub use model::*;
pub use release::{ModelSource, Releases, pipeline_from_toml};

/// The `[video_compressor]` section: one method of the compression zoo (docs/compression.md).
pub type VideoCompressorConfig = hico_compress::Method;

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
    /// Whole-video compression of the LLM-width visual tokens, between the connector and
    /// the LLM (`[video_compressor]`, a method of hico-compress; default `none`).
    #[serde(default, skip_serializing_if = "VideoCompressorConfig::is_none")]
    pub video_compressor: VideoCompressorConfig,
    /// Decoder LLM.
    pub llm: LlmConfig,
    /// Progressive visual-token dropout inside the LLM.
    #[serde(default)]
    pub dropout: DropoutConfig,
    /// What decoding does to the KV cache (`[kv_cache]`, default `none`).
    #[serde(default, skip_serializing_if = "KvCacheConfig::is_none")]
    pub kv_cache: KvCacheConfig,
    /// Prompt construction.
    #[serde(default)]
    pub prompt: PromptConfig,
    /// Decoding.
    #[serde(default)]
    pub generation: GenerationConfig,
    /// A released model the weights come from (`[model]`, see [`release`]); in a TOML file
    /// it stands for the sections the release implies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSource>,
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
    /// How a decoded frame becomes `size × size` RGB.
    pub resize: ResizeKind,
    /// Precision of the normalised pixels the vision tower sees at inference: `f32`
    /// (hico's default), or `f16` / `bf16` (each value rounded to that type and back, as a
    /// release's `chat()` does with `.half()` before the tower). Training is unaffected.
    #[serde(skip_serializing_if = "PixelDtype::is_f32")]
    pub pixels: PixelDtype,
}

/// Element type the normalised pixels are rounded to before the vision tower.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PixelDtype {
    /// Full f32 (no rounding).
    #[default]
    F32,
    /// IEEE half precision (round to nearest even): the release's `chat()` (`.half()`).
    F16,
    /// bfloat16 (round to nearest even).
    Bf16,
}

impl PixelDtype {
    /// Whether this is the default `f32` (nothing to round; not written to configs).
    pub fn is_f32(&self) -> bool {
        *self == Self::F32
    }

    /// `x` rounded to this type and widened back to f32.
    pub fn round(self, x: f32) -> f32 {
        match self {
            Self::F32 => x,
            Self::F16 => half::f16::from_f32(x).to_f32(),
            Self::Bf16 => half::bf16::from_f32(x).to_f32(),
        }
    }
}

/// How a decoded frame becomes `size × size` RGB (no crop either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResizeKind {
    /// One swscale bicubic pass straight from the decoder's pixel format (fast; hico's
    /// default).
    #[default]
    Swscale,
    /// Convert to RGB24 at the native size, then resize with Pillow's `BICUBIC` filter,
    /// bit for bit, as Pillow up to 12 does (horizontal pass first): what the released
    /// VideoChat-Flash image processor did to its frames.
    PilBicubic,
    /// As `pil_bicubic`, with Pillow 13's pass order (vertical first when the height
    /// shrinks by more than twice as many pixels as the width; differs only then, e.g. on
    /// portrait frames).
    PilBicubicPillow13,
}

impl Default for VideoConfig {
    fn default() -> Self {
        Self {
            size: 224,
            clip_len: 4,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            resize: ResizeKind::Swscale,
            pixels: PixelDtype::F32,
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
    /// The released VideoChat-Flash `chat()` rule (`sample='dynamic_fps1'` of its
    /// `get_frame_indices`): about one frame per second rounded down to a multiple of
    /// `frame_multiple` (at least one multiple), capped at `max_frames`, raised to
    /// `min_frames` (which shrinks to the whole multiples available in short videos),
    /// segment middles, padded with the last frame.
    DynamicFps {
        /// Lower bound on frames (64 in the release).
        #[serde(default = "default_t_min")]
        min_frames: usize,
        /// Upper bound on frames (512 in the release); 0 means no cap.
        #[serde(default = "default_t_max")]
        max_frames: usize,
        /// The frame count is a multiple of this (the release's `local_num_frames`, 8).
        #[serde(default = "default_frame_multiple")]
        frame_multiple: usize,
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
fn default_frame_multiple() -> usize {
    8
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
    /// At inference, keep only the first `max_input_len` rows of the spliced input (text
    /// before the video, visual tokens, text after), as a release does with its config's
    /// `tokenizer_model_max_length`; no limit when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_len: Option<usize>,
}

impl Default for PromptConfig {
    fn default() -> Self {
        Self {
            system: "You are a helpful assistant.".into(),
            timestamps: TimestampStyle::Duration,
            max_input_len: None,
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
    /// Keep only the `top_k` most likely tokens when sampling (0 = off; transformers'
    /// own default is 50).
    pub top_k: usize,
    /// Divide positive logits (multiply negative ones) of tokens already generated by
    /// this (1.0 = off), as transformers' `repetition_penalty`.
    pub repetition_penalty: f64,
    /// Sampling seed.
    pub seed: u64,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            max_new_tokens: 32,
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            repetition_penalty: 1.0,
            seed: 0,
        }
    }
}
