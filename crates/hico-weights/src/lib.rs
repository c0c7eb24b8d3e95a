//! # hico-weights
//!
//! Checkpoint weights by key: one key map per model family, used to load and to save.
//!
//! A module that lives in checkpoints implements [`Weights`]: its `walk` visits every
//! parameter once, under its checkpoint key and with the [`Layout`] the checkpoint stores it
//! in. That walk is the family's whole key map. Loading and saving are two visitors of it:
//!
//! - [`Loader`] reads each parameter from [`WeightFiles`] (safetensors, single or sharded,
//!   F32 / F16 / BF16), converting one tensor at a time to f32 on the host, so loading never
//!   holds more than the model plus one tensor; it records every missing, unused and
//!   mis-shaped tensor and reports them together ([`WeightError::Tensors`]).
//! - [`Saver`] collects the parameters back under the same keys and layouts and writes a
//!   safetensors file (f32 or bf16), optionally sharded with an index, as Hugging Face does.
//!
//! Build a module with lazily initialised parameters (burn's `XConfig::init`) before loading:
//! a lazy parameter costs nothing until read, and the loader replaces it (keeping its id).

mod files;
mod load;
mod save;

use burn::module::Param;
use burn::nn::{Embedding, LayerNorm, Linear, RmsNorm};
use burn::tensor::{Tensor, backend::Backend};

pub use files::{TensorInfo, WeightDtype, WeightFiles};
pub use load::Loader;
pub use save::{SaveDtype, Saver};

use std::path::PathBuf;

/// How a checkpoint stores a parameter relative to the module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Same shape, same element order.
    Same,
    /// A matrix stored transposed: the module holds `[a, b]`, the checkpoint `[b, a]`
    /// (PyTorch's `Linear.weight` is `[out, in]`, burn's `[in, out]`).
    Transposed,
    /// The module holds `[in, out]`; the checkpoint holds a tensor of this shape whose first
    /// dimension is `out` and whose other dimensions flatten (row-major) to `in`, e.g. a
    /// PyTorch `Conv3d` patch embedding `[D, 3, 1, p, p]` used as a Linear of `3p² → D`.
    FlattenTransposed(Vec<usize>),
}

impl Layout {
    /// The checkpoint's shape for a module parameter of shape `module`.
    pub fn file_shape(&self, module: &[usize]) -> Vec<usize> {
        match self {
            Self::Same => module.to_vec(),
            Self::Transposed => module.iter().rev().copied().collect(),
            Self::FlattenTransposed(file) => file.clone(),
        }
    }
}

/// A module parameter whose checkpoint tensor has another shape than expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// Checkpoint key.
    pub key: String,
    /// Shape the model needs (checkpoint layout).
    pub expected: Vec<usize>,
    /// Shape found in the checkpoint.
    pub found: Vec<usize>,
}

impl std::fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: expected {:?}, found {:?}",
            self.key, self.expected, self.found
        )
    }
}

/// Errors reading or writing checkpoint weights; each names the file and the tensor.
#[derive(Debug, thiserror::Error)]
pub enum WeightError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A safetensors header (or a shard index) is malformed or inconsistent with the file.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A tensor has an element type hico does not read.
    #[error("{path}: tensor `{key}` has dtype {dtype}; hico reads F32, F16 and BF16")]
    Dtype {
        /// The file.
        path: PathBuf,
        /// The tensor.
        key: String,
        /// Its dtype as written in the header.
        dtype: String,
    },
    /// The checkpoint does not match the model: every problem at once.
    #[error("{}", tensors_message(.source_name, .missing, .unexpected, .mismatched))]
    Tensors {
        /// The checkpoint (directory or file) that was read.
        source_name: String,
        /// Keys the model needs that the checkpoint lacks.
        missing: Vec<String>,
        /// Keys of the checkpoint that nothing in the model reads.
        unexpected: Vec<String>,
        /// Keys present with the wrong shape.
        mismatched: Vec<ShapeMismatch>,
    },
}

fn tensors_message(
    source: &str,
    missing: &[String],
    unexpected: &[String],
    mismatched: &[ShapeMismatch],
) -> String {
    let mut s = format!("{source}: checkpoint does not match the model");
    let list = |s: &mut String, what: &str, items: Vec<String>| {
        if !items.is_empty() {
            s.push_str(&format!("\n  {what} ({}):", items.len()));
            for i in items {
                s.push_str(&format!("\n    {i}"));
            }
        }
    };
    list(&mut s, "missing", missing.to_vec());
    list(&mut s, "unexpected", unexpected.to_vec());
    list(
        &mut s,
        "wrong shape",
        mismatched.iter().map(ToString::to_string).collect(),
    );
    s
}

/// Visits parameters under their checkpoint keys (see the module docs).
pub trait WeightVisitor<B: Backend> {
    /// One parameter stored under `key` in `layout`.
    fn param<const D: usize>(&mut self, key: &str, param: &mut Param<Tensor<B, D>>, layout: Layout);

    /// A PyTorch-style `Linear`: `{key}.weight` `[out, in]`, `{key}.bias` `[out]` if the
    /// module has one.
    fn linear(&mut self, key: &str, linear: &mut Linear<B>) {
        self.param(
            &format!("{key}.weight"),
            &mut linear.weight,
            Layout::Transposed,
        );
        if let Some(b) = linear.bias.as_mut() {
            self.param(&format!("{key}.bias"), b, Layout::Same);
        }
    }

    /// An RMSNorm: `{key}.weight`.
    fn rms_norm(&mut self, key: &str, norm: &mut RmsNorm<B>) {
        self.param(&format!("{key}.weight"), &mut norm.gamma, Layout::Same);
    }

    /// A LayerNorm: `{key}.weight`, `{key}.bias` if the module has one.
    fn layer_norm(&mut self, key: &str, norm: &mut LayerNorm<B>) {
        self.param(&format!("{key}.weight"), &mut norm.gamma, Layout::Same);
        if let Some(b) = norm.beta.as_mut() {
            self.param(&format!("{key}.bias"), b, Layout::Same);
        }
    }

    /// An embedding table: `{key}.weight` `[rows, width]`.
    fn embedding(&mut self, key: &str, emb: &mut Embedding<B>) {
        self.param(&format!("{key}.weight"), &mut emb.weight, Layout::Same);
    }
}

/// A module with a checkpoint key map.
pub trait Weights<B: Backend> {
    /// Visit every parameter once, under `prefix` followed by its key.
    fn walk<V: WeightVisitor<B>>(&mut self, prefix: &str, visitor: &mut V);
}

/// Reorder a row-major `[rows, cols]` buffer to `[cols, rows]`, in square tiles so that reads
/// and writes both stay within a few cache lines (column by column, every read of a large
/// matrix misses the cache: about 3x slower on a `[8960, 1536]` f32 matrix).
pub(crate) fn transpose<T: Copy + Default>(data: &[T], rows: usize, cols: usize) -> Vec<T> {
    const TILE: usize = 32;
    debug_assert_eq!(data.len(), rows * cols);
    let mut out = vec![T::default(); data.len()];
    for r0 in (0..rows).step_by(TILE) {
        for c0 in (0..cols).step_by(TILE) {
            for r in r0..(r0 + TILE).min(rows) {
                for c in c0..(c0 + TILE).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
