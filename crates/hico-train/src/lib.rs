//! # hico-train
//!
//! Multi-stage, resumable training of a hico video LLM on one backend-generic code path
//! (burn's CPU `flex` backend in tests, burn-cuda for real work).
//!
//! - [`StageConfig`]: one stage as TOML (`configs/train/stage*.toml`): trainable parts
//!   with their learning rates, cosine schedule, frame bounds, resolution, batching, data.
//! - [`data`]: LLaVA-style annotations; [`loader`]: decoding in worker threads, in order.
//! - [`checkpoint`]: atomic checkpoints (weights, optimizer, schedule step, data position,
//!   RNG), so `--resume` continues exactly; each with a [`manifest`] of sizes and
//!   checksums, so a damaged checkpoint is never resumed from (the previous one is).
//! - [`metrics`]: JSONL metrics and a progress bar.
//! - [`schedule`]: warm-up + cosine learning rate.
//! - [`run_stage`]: the loop of one stage; [`run_stage_parallel`]: the same loop
//!   data-parallel over several devices with burn's collective all-reduce (several devices
//!   need the feature `ddp`, default on); [`run_stage_distributed`] / [`dist`]: the same loop
//!   as one process of several (one per device, on one machine or many, torchrun-style
//!   rank / world size / master address); [`load_trained`]: a trained model back as a
//!   [`Pipeline`](hico_model::Pipeline); [`export`]: the final folder (burn record + HF LLM).

pub mod checkpoint;
pub mod config;
pub mod data;
#[cfg(feature = "ddp")]
pub mod dist;
mod error;
pub mod export;
pub mod forward;
pub mod loader;
pub mod manifest;
pub mod metrics;
pub mod optim;
mod prepare;
mod replicas;
pub mod rng;
pub mod schedule;
pub mod sequence;
mod steps;
pub mod synth_data;
mod trainer;

pub use config::StageConfig;
pub use error::TrainError;
pub use export::load_trained;
pub use prepare::RunOptions;
pub use steps::TrainOutcome;
#[cfg(feature = "ddp")]
pub use trainer::run_stage_distributed;
pub use trainer::{run_stage, run_stage_parallel, run_stage_with};
