//! `hico-viz`: the pictures of a run, drawn with `plotters` into PNG **and** SVG.
//!
//! Every plot function takes an `out_stem` (a path without extension), creates its parent
//! directories and writes `stem.png` and `stem.svg`, returning both paths. Text is set in
//! DejaVu Sans, embedded in the binary (`assets/`, licence beside it) and registered with
//! plotters' `ab_glyph` font table, so no system fonts are needed at run time.
//!
//! Plots:
//! - [`retention_lines`]: visual tokens kept per decoder layer, one line per trace;
//! - [`attention_heatmap`]: captured layers × sampled frames (video time), colour = mass;
//! - [`drop_pattern`]: layers × sampled frames, colour = fraction of each frame's tokens kept;
//! - [`niah_heatmap`]: NIAH accuracy over needle depth × haystack length;
//! - [`accuracy_vs_tokens`]: accuracy vs visual tokens per frame, one series per compressor,
//!   with 95 % interval bars when given ([`accuracy_vs`]: the same with another x axis);
//! - [`cost_plots`]: accuracy vs visual tokens kept and vs measured prefill time, one point
//!   per cell pooled over the seeds, one series per compression method;
//! - [`patch_overlay`]: which patches of the sampled frames reach each layer (kept, merged,
//!   dropped), drawn on the frames;
//! - [`loss_curve`]: training loss per step and its moving mean;
//! - [`depth_curve`]: accuracy vs decoder layers that see the visual tokens (the drop-depth
//!   curve), one line per seed and their mean.
//!
//! Long videos are binned into at most [`MAX_COLUMNS`] frame columns.
//!
//! # Run-directory layout read by [`plot_run_dir`] (and `hico plot RUN_DIR`)
//! Plots go to `RUN_DIR/plots/`.
//! - **Single run**: `retention.json` ([`RetentionTrace`]), `provenance.json`
//!   ([`hico_core::provenance::Provenance`]) and optionally `attention.json`
//!   ([`AttentionCapture`]) → `retention`, `drop_pattern` and `attention` plots.
//! - **Ablation dir**: `results.csv` whose header holds at least
//!   `cell,compressor,tokens_per_frame,dropout,accuracy,visual_tokens` (columns are found by
//!   name; others are ignored; rows whose accuracy does not parse, e.g. failed cells, are
//!   skipped; an empty `tokens_per_frame` falls back to `visual_tokens / frames` when a
//!   `frames` column exists) → `accuracy_vs_tokens` (series = compressor; accuracy
//!   averaged over the other grid axes, e.g. dropout, at each tokens-per-frame value), and one
//!   `retention_<compressor>` plot per compressor with a line per cell read from
//!   `cells/<cell>/retention.json`, labelled by the cell's `dropout` value. Each cell
//!   directory that holds the single-run files also gets its single-run plots under
//!   `plots/cells/<cell>/`. Optional `niah.csv` with header `depth,frames,accuracy` →
//!   `niah` heatmap; `train/metrics.jsonl` (hico-train) → `loss` curve.
//! - **Seeded ablation dir** (a `seed` column in `results.csv`): the rows of a cell are
//!   averaged over seeds for `accuracy_vs_tokens` (bars from the lowest seed's 95 % lower end
//!   to the highest seed's upper end), cell files are read from the first seed's
//!   `seed-<s>/cells/<cell>/`, one `loss_seed-<s>` curve per seed from `seed-<s>/train/`;
//!   `depth_curve.csv` (`layers_seen,accuracy,n`) and `depth_curve_seeds.csv` → `depth_curve`.
//! - **Cost columns** (`method`, `correct`, `n`, `layer_visual_tokens`, `prefill_ms` in
//!   `results.csv`, as `hico ablate` writes them) → `accuracy_vs_kept_tokens` and
//!   `accuracy_vs_prefill_time` ([`cost_plots`]).

mod attention;
mod bench;
pub mod demo;
mod depth;
mod figure;
mod heatmap;
mod overlay;
mod retention;
mod run_dir;
mod zoo;

pub use attention::attention_heatmap;
pub use bench::{NiahCell, TokenPoint, accuracy_vs, accuracy_vs_tokens, niah_heatmap};
pub use depth::{DepthSeries, depth_curve};
pub use overlay::{Frames, loss_curve, patch_overlay};
pub use retention::{drop_pattern, retention_lines};
pub use run_dir::{
    ResultRow, load_json, plot_run_dir, read_losses, read_niah_csv, read_results_csv, token_points,
};
pub use zoo::{CostPoint, cost_plots, read_cost_points, wilson95};

pub use hico_core::trace::{AttentionCapture, RetentionTrace};

use std::path::PathBuf;

/// Frame columns drawn at most in a frames-on-x plot; longer videos are binned.
pub const MAX_COLUMNS: usize = 1000;

/// Errors of plotting; each names the file or plot concerned.
#[derive(Debug, thiserror::Error)]
pub enum VizError {
    /// Reading or creating a file or directory failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A JSON file did not parse into the expected type.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A CSV file lacks a column or has a malformed row.
    #[error("{path}: {msg}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// The input data cannot be plotted (empty, inconsistent sizes, …).
    #[error("{plot}: {msg}")]
    Data {
        /// The plot being drawn.
        plot: String,
        /// What is wrong.
        msg: String,
    },
    /// plotters failed while drawing or writing an image.
    #[error("drawing {path}: {msg}")]
    Draw {
        /// The image file.
        path: PathBuf,
        /// plotters' message.
        msg: String,
    },
    /// The run directory holds nothing plottable.
    #[error("{dir}: nothing to plot (expected retention.json or results.csv)")]
    NothingToPlot {
        /// The run directory.
        dir: PathBuf,
    },
}
