//! # hico-model
//!
//! Composes the five components into one video LLM and runs it:
//!
//! ```text
//! FrameReader ─Sampler─▶ frames, clip by clip ─UmtEncoder─▶ [L·h·w, Dv] per clip
//!   ─ClipCompressor─▶ k tokens per clip (+ provenance) ─Connector─▶ [N, Dllm]
//!   ─video compressor (whole video, hico-compress)─▶ [K, Dllm]
//!   ─spliced into the chat prompt─▶ LLM prefill (executing the DropPlan) ─▶ generate
//! ```
//!
//! - [`VideoLlm`]: the weights (encoder, connector, LLM) as one burn module, so one code
//!   path serves inference and training (`B: AutodiffBackend`).
//! - [`Pipeline`]: the weights plus the weightless components (sampler, compressor,
//!   dropout schedule, tokenizer) built from a [`PipelineConfig`](hico_core::config::PipelineConfig).
//! - [`RunOutput`]: what a run produced; [`RunOutput::write_dir`] writes the run directory
//!   that `hico plot` reads (config.json, summary.json, provenance.json, retention.json,
//!   attention.json, ledger.json).
//! - [`release`]: released VideoChat-Flash models as published (the format's facts, its
//!   `config.json` → pipeline config, load all three parts from one checkpoint, write a
//!   model back in that format).
//! - [`load_config`]: a pipeline config file loaded as hico runs it (`[model]` expanded by
//!   the release loader, values checked, the LLM's family checked against hico-llm's).

mod config;
mod error;
mod model;
mod output;
mod pipeline;
pub mod release;
pub mod video_slot;

pub use config::{check_llm_family, load_config, validate_config};
pub use error::ModelError;
pub use model::{VideoLlm, VisualEmbeds, materialize};
pub use output::{RunOutput, StageCounts};
pub use pipeline::{EncodedVideo, Pipeline, Prompt};
pub use video_slot::SlotRecord;
