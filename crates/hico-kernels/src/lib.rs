//! # hico-kernels
//!
//! hico's own CPU kernels: slices in, slices out, no burn. They do the work where composing
//! burn ops costs most: attention ([`attention`], tiled with an online softmax, no `L × L`
//! matrix) and its backward ([`attention_grad`]), the vectorised `exp` it uses ([`exp`]),
//! rotary embeddings in one pass ([`rope`]), the `pool` compressor's cell means in one pass
//! ([`pool`]), the MLP activations SwiGLU and GELU in one pass each and their backward
//! ([`act`]), RMSNorm and its backward ([`norm`]), products of a few rows with a weight matrix
//! (the decode step's projections and head, [`gemv`]), every other linear layer's product
//! written once into its output ([`linear`]), and AdamW's update in one pass per parameter
//! ([`adamw`]).
//!
//! Model code never calls them directly: the `hico-backend` crate's `HicoBackend` trait (a
//! burn backend extension) runs them for burn's `flex` CPU backend, plain and under autodiff,
//! reading the tensors' buffers in place through strided views ([`view`]).
//!
//! Their elementwise and row loops are plain Rust, compiled for SSE2, AVX2 and AVX-512 and
//! chosen at run time ([`simd`]; `HICO_KERNEL_ISA` caps the choice); their matrix products run
//! the gemm crate's kernels for the same instruction set, blocked independently of the CPU's
//! caches ([`gemm_isa`]). Kernels whose tasks are uniform split them statically, one share
//! per thread, so repeated calls keep each core's cache ([`split`]).

pub mod act;
pub mod adamw;
pub mod attention;
pub mod attention_grad;
pub mod exp;
pub mod gemm_isa;
pub mod gemv;
pub mod linear;
pub mod norm;
pub mod pool;
pub mod rope;
pub mod simd;
pub mod split;
pub mod view;

/// `f` run on a rayon pool of `threads` threads (the kernels' tests of thread-count
/// independence).
#[cfg(test)]
pub(crate) fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool")
        .install(f)
}
