//! # hico-eval
//!
//! Benchmarks and ablations for hico pipelines:
//!
//! - [`bench`]: needle-in-a-video-haystack sets (single needle and multi-hop), built as real
//!   mp4 files with a JSON manifest and LLaVA-style training JSON (see README.md for the
//!   construction);
//! - scoring: teacher-forced comparison of the option letters' logits (as the reference),
//!   plus free-form exact match, aggregated per depth × haystack length; unreadable
//!   questions are skipped, logged and counted as wrong ([`skip`]);
//! - the ablation runner behind `hico ablate`: a base config, a benchmark, optional training,
//!   and a grid over dotted config keys, resumable cell by cell;
//! - [`public`]: the public video benchmarks (hico-benchmarks' tasks) run through a pipeline
//!   as the official evaluation runs them (`hico eval`): predictions, resume, shards, results
//!   with intervals, paired comparison of two runs;
//! - [`stats`]: Wilson intervals and exact McNemar tests of paired cells;
//! - [`version`]: the version and git commit stamped on every result.

pub mod ablate;
pub mod bench;
mod error;
pub mod public;
pub mod score;
pub mod skip;
pub mod stats;
pub mod version;

pub use error::{EvalError, read_json, write_json};
