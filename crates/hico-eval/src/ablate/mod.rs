//! The ablation runner behind `hico ablate`: an [`Experiment`] file expands into grid
//! [`Cell`]s; [`run_seeds`] trains one model per training seed and scores each cell (and the
//! drop-depth cells) with each, resumably, and writes the tables over the seeds;
//! [`run_grid`] scores one given model.

pub mod budget;
pub mod depth;
pub mod experiment;
pub mod listed;
pub mod public_grid;
pub mod report;
pub mod runner;
pub mod seeds;
pub mod train;

pub use budget::{BudgetRow, budget_markdown, budget_rows, method_of};
pub use depth::{DepthPoint, depth_cells};
pub use experiment::{Cell, Experiment, PairSpec, PhaseSpec, ScoreSpec, TrainSpec};
pub use listed::CellSpec;
pub use public_grid::{PublicExperiment, run_public_grid};
pub use report::Row;
pub use runner::{
    GridSummary, ModelRun, bar, checked_cells, prepare_benchmark, run_grid, score_cells,
};
pub use seeds::{ModelResult, SeedPaired, SeededPaired, run_seeds, write_tables};
pub use train::{Trained, ensure_trained};
