//! # hico-core
//!
//! The contract every other hico crate builds on:
//!
//! - the five component traits of the pipeline ([`Sampler`], [`VisionEncoder`],
//!   [`ClipCompressor`], [`DropoutSchedule`], [`LanguageModel`]; the connector is a plain
//!   burn module in `hico-vision`),
//! - their TOML configuration types ([`config`]), loaded with errors that name the file,
//!   the key and what was expected,
//! - the data that flows between stages and carries provenance: every visual token knows
//!   its clip, the frames and patches it covers ([`Provenance`]), so that retention
//!   ([`RetentionTrace`]) and attention ([`AttentionCapture`]) can be drawn in video time,
//! - the analytic FLOP / KV-cache ledger ([`ledger`]);
//! - run safety: one process per output folder ([`lock::DirLock`]).
//!
//! The pipeline, left to right:
//!
//! ```text
//! video ─Sampler─▶ frames ─VisionEncoder─▶ clip tokens ─ClipCompressor─▶ k tokens/clip
//!   ─Connector─▶ LLM-width tokens ─spliced at <image>─▶ LanguageModel (+DropoutSchedule)
//! ```

pub mod config;
pub mod error;
pub mod ledger;
pub mod lock;
pub mod provenance;
pub mod trace;
pub mod traits;

pub use error::{ConfigError, CoreError};
pub use provenance::{PatchGrid, Provenance, VisualToken};
pub use trace::{AttentionCapture, RetentionTrace};
pub use traits::*;

/// A label made safe as a file or folder name: anything but `[A-Za-z0-9._-]` becomes `_`
/// (cell names of ablation grids, plot files).
pub fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}
