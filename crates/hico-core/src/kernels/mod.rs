//! hico's own CPU kernels, for the work where composing burn ops costs most: attention
//! ([`attention`], tiled with an online softmax, no `L × L` matrix), the vectorised `exp`
//! it uses ([`exp`]), rotary embeddings in one pass ([`rope`]) and the `pool` compressor's
//! cell means in one pass ([`pool`]), the MLP activations SwiGLU and GELU in one pass each
//! ([`act`]). Model
//! code reaches them through [`flex`], which runs them for burn's plain `flex` backend and
//! answers `None` for every other backend.

pub mod act;
pub mod attention;
pub mod exp;
pub mod flex;
pub mod pool;
pub mod rope;
