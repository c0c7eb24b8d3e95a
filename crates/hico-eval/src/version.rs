//! Which code produced a result: hico's version and the git commit it was built from
//! (stamped by this crate's build script; `unknown` outside a git checkout, `-dirty` when
//! tracked files differed from the commit at build time). Every ablation row carries both,
//! and a cell or trained model cached by other code is recomputed.

/// hico's version (the workspace version).
pub const HICO_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit of the source tree hico was built from.
pub const GIT_COMMIT: &str = env!("HICO_GIT_COMMIT");

/// `version+commit`, the code part of every cache key.
pub fn code_id() -> String {
    format!("{HICO_VERSION}+{GIT_COMMIT}")
}
