//! The `[video_compressor]` slot: a whole-video method of hico-compress applied to the
//! LLM-width visual tokens between the connector and the LLM.
//!
//! The method sees the visual block as `[T, N, C]`: frames of token grids when the clip
//! compressor keeps them (`identity`, `pool`), otherwise one "frame" per clip holding the
//! clip's tokens in the compressor's order (no grid: methods that need one are refused by
//! `PipelineConfig::validate`). Query-aware methods get the question's token embeddings
//! from the LLM's embedding table. The method's plan is applied as tensor ops (a row
//! gather, or a weighted sum by `select_assign`), so it runs on any backend and gradients
//! pass; the provenance of an output token is the union of what it stands for.

use hico_backend::HicoBackend;
use std::time::Instant;

use burn::prelude::*;
use burn::tensor::IndexingUpdateOp;
use hico_compress::{Input, Method, Plan};
use hico_core::{Provenance, VisualToken};
use serde::Serialize;

use crate::ModelError;

/// What the slot did to one video.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlotRecord {
    /// The method's `kind`.
    pub kind: String,
    /// Visual tokens in.
    pub tokens_in: usize,
    /// Visual tokens out.
    pub tokens_out: usize,
    /// `T` of the `[T, N, C]` the method saw (frames, or clips when the grid is gone).
    pub t: usize,
    /// `N` of the `[T, N, C]` the method saw.
    pub n: usize,
    /// Seconds the method's decisions took (the plan, not its application).
    pub seconds: f64,
}

/// The `[T, N]` layout of a visual block of `n_tokens` for a video of `n_frames` sampled
/// frames in clips of `clip_len`: per frame when the clip compressor `keeps_grid`, else per
/// clip.
pub fn layout(
    n_tokens: usize,
    n_frames: usize,
    clip_len: usize,
    keeps_grid: bool,
) -> (usize, usize) {
    let t = if keeps_grid {
        n_frames
    } else {
        n_frames / clip_len.max(1)
    }
    .max(1);
    (t, n_tokens / t)
}

/// Output rows of a plan: row `j` is `Σ w · x[i]` over the plan's group `j`.
///
/// # Shapes
/// - `x`: `[n_in, C]`; returns `[plan.len(), C]`
pub fn apply_plan<B: HicoBackend>(x: Tensor<B, 2>, plan: &Plan) -> Tensor<B, 2> {
    let device = x.device();
    let [_, c] = x.dims();
    let ints = |v: Vec<i64>| {
        let n = v.len();
        Tensor::<B, 1, Int>::from_data(TensorData::new(v, [n]), &device)
    };
    if plan.groups.iter().all(|g| g.len() == 1 && g[0].1 == 1.0) {
        return x.select(0, ints(plan.groups.iter().map(|g| g[0].0 as i64).collect()));
    }
    let (mut src, mut dst, mut w) = (Vec::new(), Vec::new(), Vec::new());
    for (j, g) in plan.groups.iter().enumerate() {
        for &(i, wi) in g {
            src.push(i as i64);
            dst.push(j as i64);
            w.push(wi);
        }
    }
    let n_pairs = w.len();
    let weights = Tensor::<B, 1>::from_data(TensorData::new(w, [n_pairs]), &device);
    let rows = x.select(0, ints(src)) * weights.unsqueeze_dim::<2>(1);
    Tensor::<B, 2>::zeros([plan.len(), c], &device).select_assign(
        0,
        ints(dst),
        rows,
        IndexingUpdateOp::Add,
    )
}

/// Run `method` on a visual block.
///
/// # Shapes
/// - `embeds`: `[n_visual, C]` in the order of `prov.tokens`; `query`: `[Q, C]`;
///   `attention`: `[n_visual]`, what each token's patches received in the encoder
/// - returns the kept `[K, C]`, their provenance and the record
pub fn compress_block<B: HicoBackend>(
    method: &Method,
    embeds: Tensor<B, 2>,
    prov: &Provenance,
    (t, n): (usize, usize),
    is_grid: bool,
    query: Option<Tensor<B, 2>>,
    attention: Option<&[f32]>,
) -> Result<(Tensor<B, 2>, Provenance, SlotRecord), ModelError> {
    let [n_visual, c] = embeds.dims();
    if t * n != n_visual || prov.tokens.len() != n_visual {
        return Err(ModelError::Invalid(format!(
            "video_compressor `{}`: {n_visual} visual tokens ({} in the provenance) are not {t} \
             frames of {n}",
            method.kind(),
            prov.tokens.len()
        )));
    }
    let host = |x: Tensor<B, 2>| -> Vec<f32> {
        x.into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .expect("f32 data")
    };
    let data = host(embeds.clone());
    let query = query.map(|q| {
        let rows = q.dims()[0];
        (host(q), rows)
    });
    let mut x = Input::new(&data, t, n, c)?;
    x.is_grid = is_grid;
    x.query = query.as_ref().map(|(q, rows)| (q.as_slice(), *rows));
    x.attention = attention;
    let start = Instant::now();
    let plan = method.plan(&x)?;
    let seconds = start.elapsed().as_secs_f64();
    let tokens: Vec<VisualToken> = plan
        .groups
        .iter()
        .map(|g| {
            VisualToken::union(
                g.iter()
                    .filter(|&&(_, w)| w != 0.0)
                    .map(|&(i, _)| &prov.tokens[i as usize]),
            )
        })
        .collect();
    let out = apply_plan(embeds, &plan);
    let record = SlotRecord {
        kind: method.kind().to_string(),
        tokens_in: n_visual,
        tokens_out: plan.len(),
        t,
        n,
        seconds,
    };
    let prov = Provenance {
        tokens,
        ..prov.clone()
    };
    Ok((out, prov, record))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hico_core::PatchGrid;

    type B = burn::backend::Flex;

    #[test]
    fn plans_apply_as_gathers_and_weighted_sums() {
        let device = Default::default();
        let x = Tensor::<B, 2>::from_data(
            TensorData::new((0..12).map(|v| v as f32).collect::<Vec<_>>(), [4, 3]),
            &device,
        );
        let keep = apply_plan(x.clone(), &Plan::keep([3, 1]));
        assert_eq!(
            keep.into_data().to_vec::<f32>().unwrap(),
            vec![9.0, 10.0, 11.0, 3.0, 4.0, 5.0]
        );
        let mean = apply_plan(x, &Plan::means([vec![0, 2], vec![1]]));
        assert_eq!(
            mean.into_data().to_vec::<f32>().unwrap(),
            vec![3.0, 4.0, 5.0, 3.0, 4.0, 5.0]
        );
    }

    #[test]
    fn provenance_follows_the_plan_across_clips() {
        let device = Default::default();
        let grid = PatchGrid {
            frames: 1,
            h: 1,
            w: 2,
        };
        // Two clips of one frame with two tokens each; `random` keeps 2 of 4.
        let prov = Provenance {
            grid,
            frame_indices: vec![0, 1],
            frame_times: vec![0.0, 1.0],
            tokens: (0..4)
                .map(|i| VisualToken::new(i / 2, vec![i % 2]))
                .collect(),
        };
        let x = Tensor::<B, 2>::ones([4, 3], &device);
        let method: Method = toml::from_str("kind = \"random\"\nretention_ratio = 0.5").unwrap();
        let (out, p, rec) = compress_block(&method, x, &prov, (2, 2), true, None, None).unwrap();
        assert_eq!(out.dims(), [2, 3]);
        assert_eq!(rec.tokens_out, 2);
        assert!(p.validate_at_most_once().is_ok());
        let merge: Method = toml::from_str("kind = \"downsample\"\ntokens_per_frame = 1").unwrap();
        let err = compress_block(
            &merge,
            Tensor::<B, 2>::ones([4, 3], &device),
            &prov,
            (2, 2),
            true,
            None,
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("square"), "{err}");
    }
}
