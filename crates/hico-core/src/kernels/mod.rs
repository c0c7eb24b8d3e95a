//! hico's own CPU kernels, for the work where composing burn ops costs most: attention
//! ([`attention`], tiled with an online softmax, no `L × L` matrix), the vectorised `exp`
//! it uses ([`exp`]), rotary embeddings in one pass ([`rope`]) and the `pool` compressor's
//! cell means in one pass ([`pool`]), the MLP activations SwiGLU and GELU in one pass each
//! ([`act`]), RMSNorm in one pass over the rows ([`norm`]), products of a few rows with a
//! weight matrix (the decode step's projections and head, [`gemv`]), every other linear
//! layer's product written once into its output ([`linear`]), and AdamW's update in one pass
//! per parameter ([`adamw`], used by hico-train's optimizer). Model code reaches them through
//! [`flex`], which runs them for burn's plain `flex` backend and answers `None` for every
//! other backend, except attention, rope, SwiGLU, GELU, RMSNorm and the linear product: under
//! burn's autodiff on `flex` (training on the CPU) each runs as one tracked op with its own
//! backward (`autodiff.rs`; attention's is the kernel of [`attention_grad`], the activations'
//! and the norm's are in [`act`] and [`norm`], the product's is two more products).
//!
//! Their elementwise and row loops are plain Rust, compiled for SSE2, AVX2 and AVX-512 and
//! chosen at run time ([`simd`]); their matrix products run the gemm crate's kernels for the
//! same instruction set, blocked independently of the CPU's caches ([`gemm_isa`]). Kernels whose tasks are uniform split them statically, one
//! share per thread, so repeated calls keep each core's cache ([`split`]). They read tensors
//! in place through strided views ([`view`]).

pub mod act;
pub mod adamw;
pub mod attention;
pub mod attention_grad;
mod autodiff;
pub mod exp;
pub mod flex;
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
