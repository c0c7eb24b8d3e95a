//! # hico-train
//!
//! Multi-stage, resumable training of a hico video LLM on one backend-generic code path
//! (burn's CPU `flex` backend in tests, burn-cuda for real work).
//!
//! - [`StageConfig`]: one stage as TOML (`configs/train/stage*.toml`): trainable parts
//!   with their learning rates, cosine schedule, frame bounds, resolution, batching, data.
//! - [`data`]: LLaVA-style annotations; [`loader`]: decoding in worker threads, in order.
//! - [`checkpoint`]: atomic checkpoints (weights, optimizer, schedule step, data position,
//!   RNG), so `--resume` continues exactly.
//! - [`metrics`]: JSONL metrics and a progress bar.
//! - [`schedule`]: warm-up + cosine learning rate.

pub mod checkpoint;
pub mod config;
pub mod data;
mod error;
pub mod loader;
pub mod metrics;
pub mod rng;
pub mod schedule;

pub use config::StageConfig;
pub use error::TrainError;
