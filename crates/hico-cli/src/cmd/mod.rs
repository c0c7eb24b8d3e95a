//! One module per subcommand.

pub mod ablate;
pub mod bench;
pub mod bench_extra;
pub mod bench_memory;
pub mod compress;
pub mod config;
pub mod encode;
pub mod eval;
pub mod examples;
pub mod llm;
pub mod measure;
pub mod niah;
pub mod plot;
pub mod release;
pub mod run;
pub mod source;
pub mod train;
#[cfg(feature = "ddp")]
pub mod train_dist;
pub mod video;
