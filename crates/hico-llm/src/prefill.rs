//! Prefill with progressive visual dropout: runs the decoder layer by layer and, after each
//! 1-based layer named by the [`DropPlan`], ranks the current visual block, gathers the kept
//! rows (so later layers and their KV cache run on the shorter sequence) and renumbers or
//! keeps position ids. Follows `flash_rank_drop` of VideoChat-Flash:
//! - `uniform`: `linspace(0, n_cur − 1, keep)` in f32, truncated to integers;
//! - `attention`: the NEXT layer's input norm, q/k projections and rotary (at the current
//!   position ids); scaled dot product of the query rows only against all keys with the
//!   causal mask; softmax in f32 over the whole current sequence; mean over heads, then the
//!   visual columns, then mean over queries; top-k restored to ascending order.
//!
//! Scoring computes `heads × n_queries × L` scores, never L×L.

use burn::tensor::{Int, Tensor, TensorData, activation::softmax, backend::Backend};
use hico_core::trace::RetentionStage;
use hico_core::{KeepRule, LayerAttention, PositionMode, PrefillInput, RetentionTrace};

use crate::CausalLm;
use crate::attention::repeat_kv;
use crate::cache::KvCache;

/// What a layer-by-layer run leaves behind.
#[derive(Debug)]
pub struct RunOutput<B: Backend> {
    /// Hidden states after the last layer (before the final norm), `[1, L', hidden]`.
    pub hidden: Tensor<B, 3>,
    /// For each surviving row, the input position it came from.
    pub src: Vec<usize>,
    /// Kept visual tokens per stage.
    pub trace: RetentionTrace,
    /// Raw attention captures.
    pub attention: Vec<LayerAttention>,
    /// Sequence length at each layer's input.
    pub seq_lens: Vec<usize>,
}

/// `torch.linspace(0, n − 1, keep, dtype=float32).long()`, with torch's two-sided formula.
pub fn uniform_keep(n: usize, keep: usize) -> Vec<usize> {
    if keep == 0 {
        return Vec::new();
    }
    if keep == 1 {
        return vec![0];
    }
    let (start, end) = (0f32, (n - 1) as f32);
    let step = (end - start) / (keep - 1) as f32;
    let half = keep / 2;
    (0..keep)
        .map(|i| {
            let v = if i < half {
                start + step * i as f32
            } else {
                end - step * (keep - i - 1) as f32
            };
            v as usize
        })
        .collect()
}

fn index<B: Backend>(rows: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(v, [rows.len()]), device)
}

impl<B: Backend> CausalLm<B> {
    /// Attention of the query rows at decoder layer `layer` (0-based) over the current
    /// sequence `h`, averaged over heads and queries: one weight per row of `h`.
    pub fn query_attention(
        &self,
        layer: usize,
        h: Tensor<B, 3>,
        pos: &[usize],
        queries: &[usize],
    ) -> Vec<f32> {
        let device = h.device();
        let lyr = &self.model.layers[layer];
        let attn = &lyr.self_attn;
        let x = hico_core::nn::rms_norm(&lyr.input_layernorm, h.detach());
        let l = x.dims()[1];
        let rope = self.rope.at(pos);
        let qpos: Vec<usize> = queries.iter().map(|&q| pos[q]).collect();
        let qrope = self.rope.at(&qpos);
        let qrows = index::<B>(queries, &device);
        let q = attn.queries(x.clone().select(1, qrows.clone()), &qrope);
        let (k, _) = attn.keys_values(x, &rope);
        let k = repeat_kv(k, attn.heads / attn.kv_heads);
        let nq = queries.len();
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar(1.0 / (attn.head_dim as f64).sqrt());
        // Causal mask of the query rows, built on the device: key row j > query row q.
        let keys = Tensor::<B, 1, Int>::arange(0..l as i64, &device)
            .reshape([1, l])
            .expand([nq, l]);
        let mask = keys
            .greater(qrows.reshape([nq, 1]).expand([nq, l]))
            .unsqueeze::<4>()
            .expand([1, attn.heads, nq, l]);
        let p = softmax(scores.mask_fill(mask, f32::NEG_INFINITY), 3);
        let mean = p.mean_dim(1).mean_dim(2).reshape([l]);
        mean.into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 scores")
    }

    /// Run every layer on `input`, executing its drop plan; fills `cache` when given.
    pub fn run(&self, input: PrefillInput<B>, mut cache: Option<&mut KvCache<B>>) -> RunOutput<B> {
        let PrefillInput {
            embeds,
            visual_start,
            visual_len,
            plan,
            queries,
            capture_layers,
        } = input;
        let device = embeds.device();
        let n_layers = self.model.layers.len();
        let mut h = embeds;
        let l0 = h.dims()[1];
        let mut src: Vec<usize> = (0..l0).collect();
        let mut pos = src.clone();
        let mut vis: Vec<u32> = (0..visual_len as u32).collect();
        let mut trace = RetentionTrace::full(n_layers, visual_len);
        let (mut attention, mut seq_lens) = (Vec::new(), Vec::new());
        let mut rope = self.rope.at(&pos);
        let rows_of = |src: &[usize]| -> Vec<usize> {
            let q: Vec<usize> = queries
                .iter()
                .filter_map(|q| src.iter().position(|s| s == q))
                .collect();
            if q.is_empty() { vec![src.len() - 1] } else { q }
        };
        for (i, layer) in self.model.layers.iter().enumerate() {
            let l1 = i + 1;
            if capture_layers.contains(&l1) {
                let w = self.query_attention(i, h.clone(), &pos, &rows_of(&src));
                let block = visual_start..visual_start + vis.len();
                attention.push(LayerAttention {
                    layer: l1,
                    visual: vis
                        .iter()
                        .zip(&w[block.clone()])
                        .map(|(&v, &m)| (v, m))
                        .collect(),
                    text: w[..block.start].iter().chain(&w[block.end..]).sum(),
                });
            }
            seq_lens.push(h.dims()[1]);
            let layer_cache = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            h = layer.forward(h, &rope, layer_cache, &self.attention);
            if let Some(c) = cache.as_deref_mut() {
                c.next_pos[i] = pos.last().map_or(0, |p| p + 1);
            }
            let Some(stage) = plan.stages.iter().find(|s| s.after_layer == l1) else {
                continue;
            };
            if l1 >= n_layers {
                continue;
            }
            let n_cur = vis.len();
            let keep = stage.keep.min(n_cur);
            let rel = match stage.rule {
                KeepRule::Uniform => uniform_keep(n_cur, keep),
                KeepRule::Attention => {
                    let w = self.query_attention(l1, h.clone(), &pos, &rows_of(&src));
                    let mut order: Vec<usize> = (0..n_cur).collect();
                    let s = &w[visual_start..visual_start + n_cur];
                    order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
                    let mut top = order[..keep].to_vec();
                    top.sort_unstable();
                    top
                }
            };
            let len = h.dims()[1];
            let rows: Vec<usize> = (0..visual_start)
                .chain(rel.iter().map(|r| visual_start + r))
                .chain(visual_start + n_cur..len)
                .collect();
            h = h.select(1, index::<B>(&rows, &device));
            src = rows.iter().map(|&r| src[r]).collect();
            pos = match plan.positions {
                PositionMode::Renumber => (0..rows.len()).collect(),
                PositionMode::Keep => rows.iter().map(|&r| pos[r]).collect(),
            };
            vis = rel.iter().map(|&r| vis[r]).collect();
            trace.stages.push(RetentionStage {
                after_layer: l1,
                kept: vis.clone(),
            });
            rope = self.rope.at(&pos);
        }
        RunOutput {
            hidden: h,
            src,
            trace,
            attention,
            seq_lens,
        }
    }
}
