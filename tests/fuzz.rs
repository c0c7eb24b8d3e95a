//! Deterministic fuzzing of every file hico parses, on stable Rust: each target mutates
//! real seed files with a fixed-seed generator (`HICO_FUZZ_ITERS` cases per target, 48 by
//! default) and checks that parsing never panics, never hangs, never allocates out of
//! proportion to the input (a lying length or shape), and that every error names the file.
//! Targets, cases run and the bugs found are recorded in docs/reliability.md.

mod fuzz {
    pub mod data;
    pub mod harness;
    pub mod text;
    #[cfg(feature = "video")]
    pub mod video;
}

#[global_allocator]
static ALLOC: hico_backend::mem::Tracking = hico_backend::mem::Tracking;
