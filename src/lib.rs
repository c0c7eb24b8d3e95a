//! # hico
//!
//! Facade over the workspace crates, so that integration tests and benchmarks (in `tests/`
//! and `benches/` of this package) and downstream users can write `hico::video::...`.

pub use hico_core as core;
pub use hico_eval as eval;
pub use hico_llm as llm;
pub use hico_model as model;
pub use hico_train as train;
pub use hico_video as video;
pub use hico_vision as vision;
pub use hico_viz as viz;
