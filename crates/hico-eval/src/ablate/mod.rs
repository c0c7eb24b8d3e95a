//! The ablation runner behind `hico ablate`: an [`Experiment`] file expands into grid
//! [`Cell`]s; [`run_grid`] scores each on the benchmark, resumably, and writes the tables.

pub mod experiment;
pub mod report;
pub mod runner;
pub mod train;

pub use experiment::{Cell, Experiment, PairSpec, PhaseSpec, ScoreSpec, TrainSpec};
pub use report::Row;
pub use runner::{GridSummary, bar, prepare_benchmark, run_grid};
pub use train::{Trained, ensure_trained};
