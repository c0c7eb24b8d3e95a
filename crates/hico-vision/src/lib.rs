//! # hico-vision
//!
//! The vision side of the pipeline:
//!
//! ```text
//! clips [n, L, 3, H, W] ─UmtEncoder─▶ [n, L·h·w, D] ─ClipCompressor─▶ [n, k, D] ─Connector─▶ [n, k, D_llm]
//! ```
//!
//! - [`UmtEncoder`]: the UMT-style space-time ViT (patch 16, tubelet 1, full attention over
//!   the tokens of one clip, fixed sinusoidal position table, LayerNorm after
//!   `output_blocks` blocks). UMT-L numbers and the checkpoint key mapping are in
//!   [`encoder`] and its loader ([`UmtEncoder::load`]).
//! - [`build_compressor`]: the five clip compressors (`tome`, `tome_ordered`, `pool`,
//!   `temporal`, `identity`), each keeping per-token provenance ([`compressor`]).
//! - [`Connector`]: `mlp2x_gelu` or `linear`.

pub mod compressor;
pub mod connector;
pub mod encoder;
mod error;

pub use compressor::build_compressor;
pub use connector::{Connector, Mlp2xGelu};
pub use encoder::UmtEncoder;
pub use error::VisionError;
