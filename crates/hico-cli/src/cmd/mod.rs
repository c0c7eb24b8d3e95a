//! One module per subcommand.

pub mod ablate;
pub mod bench;
pub mod bench_extra;
pub mod config;
pub mod encode;
pub mod llm;
pub mod niah;
pub mod plot;
pub mod release;
pub mod run;
pub mod source;
pub mod train;
pub mod video;
