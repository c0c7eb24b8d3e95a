//! Clip compressors: each reduces the `L·h·w` tokens of a clip to a budget and reports, for
//! every output token, the sorted clip-local patch ids merged into it.
//!
//! | kind | rule | output order |
//! |---|---|---|
//! | `tome` | the reference bipartite soft matching ([`tome`]) | reference (unmerged even tokens, then odd) |
//! | `tome_ordered` | the same merges | space-time, by first member |
//! | `pool` | per-frame average over a `√k × √k` grid of near-equal cells ([`pool`]) | frame, then row-major cell |
//! | `temporal` | union of similar temporal, then spatial neighbours ([`temporal`]) | space-time, by first member |
//! | `identity` | none | space-time |
//!
//! All merges are (size-weighted) means built from tensor ops, so gradients reach every
//! input token; the matching decisions are made from the data on the CPU.

pub mod identity;
pub mod pool;
pub mod temporal;
pub mod tome;

use burn::tensor::{Tensor, TensorData};
use hico_backend::HicoBackend;
use hico_core::ClipCompressor;
use hico_core::config::CompressorConfig;

pub use identity::Identity;
pub use pool::Pool;
pub use temporal::Temporal;
pub use tome::{Tome, merge_schedule};

/// Build the compressor a config names; `vision_heads` (the vision tower's attention heads)
/// sets the channel groups of ToMe's matching metric.
pub fn build_compressor<B: HicoBackend>(
    cfg: &CompressorConfig,
    vision_heads: usize,
) -> Box<dyn ClipCompressor<B>> {
    match *cfg {
        CompressorConfig::Identity => Box::new(Identity),
        CompressorConfig::Tome { tokens_per_frame } => {
            Box::new(Tome::new(tokens_per_frame, false, vision_heads))
        }
        CompressorConfig::TomeOrdered { tokens_per_frame } => {
            Box::new(Tome::new(tokens_per_frame, true, vision_heads))
        }
        CompressorConfig::Pool { tokens_per_frame } => Box::new(Pool::new(tokens_per_frame)),
        CompressorConfig::Temporal {
            tokens_per_frame,
            threshold,
        } => Box::new(Temporal::new(tokens_per_frame, threshold)),
    }
}

/// Mean of each group's members, as one batched matmul (differentiable in `x`).
///
/// # Shapes
/// - `x`: `[n_clips, N, D]`; `groups[c][j]`: member ids of output token `j` of clip `c`
///   (every clip has the same number `k` of groups)
/// - returns `[n_clips, k, D]`
pub fn mean_of_groups<B: HicoBackend>(x: Tensor<B, 3>, groups: &[Vec<Vec<u32>>]) -> Tensor<B, 3> {
    let [c, n, _] = x.dims();
    let k = groups.first().map_or(0, Vec::len);
    let mut w = vec![0f32; c * k * n];
    for (ci, clip) in groups.iter().enumerate() {
        assert_eq!(
            clip.len(),
            k,
            "clip {ci}: {} groups, expected {k}",
            clip.len()
        );
        for (j, members) in clip.iter().enumerate() {
            let share = 1.0 / members.len() as f32;
            for &m in members {
                w[(ci * k + j) * n + m as usize] = share;
            }
        }
    }
    let w = Tensor::<B, 3>::from_data(TensorData::new(w, [c, k, n]), &x.device());
    w.matmul(x)
}

/// The features of a `[n_clips, N, D]` tensor on the CPU, one `Vec` per clip.
pub(crate) fn clip_rows<B: HicoBackend>(x: &Tensor<B, 3>) -> Vec<Vec<f32>> {
    let [c, n, d] = x.dims();
    let data = x
        .clone()
        .into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .expect("f32 data");
    (0..c)
        .map(|i| data[i * n * d..(i + 1) * n * d].to_vec())
        .collect()
}

/// Sort groups by their first member (space-time order) and the members within each.
pub(crate) fn sort_space_time(mut groups: Vec<Vec<u32>>) -> Vec<Vec<u32>> {
    groups.iter_mut().for_each(|g| g.sort_unstable());
    groups.sort_by_key(|g| g[0]);
    groups
}
