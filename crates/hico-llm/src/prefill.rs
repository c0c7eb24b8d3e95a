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
//! - `framefusion` (plan without stages, [`crate::framefusion`]): merges and prunes between
//!   the attention and the MLP of each layer (and merges once before layer 1).
//!
//! Scoring computes `heads × n_queries × L` scores, never L×L.

use burn::tensor::{
    IndexingUpdateOp, Int, Tensor, TensorData, activation::softmax, backend::Backend,
};
use hico_backend::HicoBackend;
use hico_core::trace::RetentionStage;
use hico_core::{DropStage, KeepRule, LayerAttention, PositionMode, PrefillInput, RetentionTrace};

use crate::CausalLm;
use crate::attention::repeat_kv;
use crate::cache::KvCache;
use crate::framefusion::{self, FusionState};
use crate::rotary::{Rope, RopeTable};

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

/// Row indices as an Int tensor.
pub(crate) fn index<B: HicoBackend>(rows: &[usize], device: &B::Device) -> Tensor<B, 1, Int> {
    let v: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
    Tensor::from_data(TensorData::new(v, [rows.len()]), device)
}

/// The rows of a shrinking prefill sequence: where each came from, its position id, the
/// visual block's original indices and the retention trace, kept in step with every gather.
#[derive(Debug)]
pub struct RowsOf<'a, B: Backend> {
    /// The model's rotary table.
    table: &'a RopeTable<B>,
    /// For each row, the input position it came from.
    pub src: Vec<usize>,
    /// Position id of each row.
    pub pos: Vec<usize>,
    /// Rotary angles at `pos`.
    pub rope: Rope<B>,
    /// Sequence position of the first visual row (text before it is never dropped).
    pub visual_start: usize,
    /// Original visual index of each visual row.
    pub vis: Vec<u32>,
    /// Which visual tokens survive each drop.
    pub trace: RetentionTrace,
    /// Position handling after a gather.
    pub positions: PositionMode,
}

impl<'a, B: HicoBackend> RowsOf<'a, B> {
    /// The rows of an input of `len` rows with `visual_len` visual rows from `visual_start`.
    pub fn new(
        table: &'a RopeTable<B>,
        len: usize,
        visual_start: usize,
        visual_len: usize,
        n_layers: usize,
    ) -> Self {
        let src: Vec<usize> = (0..len).collect();
        Self {
            table,
            rope: table.at(&src),
            pos: src.clone(),
            src,
            visual_start,
            vis: (0..visual_len as u32).collect(),
            trace: RetentionTrace::full(n_layers, visual_len),
            positions: PositionMode::default(),
        }
    }

    /// Keep the visual rows `rel` (ascending indices into the current block) and all text
    /// rows of `h`; each `(member, survivor)` of `merges` (block indices, survivor in `rel`)
    /// is added into its survivor, which is then divided by its group size (a plain mean).
    /// Records a trace stage after 1-based layer `after_layer`.
    ///
    /// # Shapes
    /// - `h`: `[1, L, hidden]` → `[1, L − (n_cur − rel.len()), hidden]`
    pub fn gather(
        &mut self,
        h: Tensor<B, 3>,
        rel: &[usize],
        merges: &[(usize, usize)],
        after_layer: usize,
    ) -> Tensor<B, 3> {
        let device = h.device();
        let (vs, n_cur, len) = (self.visual_start, self.vis.len(), h.dims()[1]);
        let rows: Vec<usize> = (0..vs)
            .chain(rel.iter().map(|r| vs + r))
            .chain(vs + n_cur..len)
            .collect();
        let mut out = h.clone().select(1, index::<B>(&rows, &device));
        if !merges.is_empty() {
            let mut at = vec![usize::MAX; n_cur];
            for (k, &r) in rel.iter().enumerate() {
                at[r] = vs + k;
            }
            let members: Vec<usize> = merges.iter().map(|&(m, _)| vs + m).collect();
            let dst: Vec<usize> = merges.iter().map(|&(_, s)| at[s]).collect();
            let mut size = vec![1f32; rows.len()];
            for &d in &dst {
                size[d] += 1.0;
            }
            let size = Tensor::<B, 1>::from_data(TensorData::new(size, [rows.len()]), &device)
                .reshape([1, rows.len(), 1]);
            out = out.select_assign(
                1,
                index::<B>(&dst, &device),
                h.select(1, index::<B>(&members, &device)),
                IndexingUpdateOp::Add,
            ) / size;
        }
        self.src = rows.iter().map(|&r| self.src[r]).collect();
        self.pos = match self.positions {
            PositionMode::Renumber => (0..rows.len()).collect(),
            PositionMode::Keep => rows.iter().map(|&r| self.pos[r]).collect(),
        };
        self.vis = rel.iter().map(|&r| self.vis[r]).collect();
        self.trace.stages.push(RetentionStage {
            after_layer,
            kept: self.vis.clone(),
        });
        self.rope = self.table.at(&self.pos);
        out
    }
}

impl<B: HicoBackend> CausalLm<B> {
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
        let x = hico_backend::nn::rms_norm(&lyr.input_layernorm, h.detach());
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

    /// Execute one drop stage on the sequence `h` after 1-based layer `stage.after_layer`
    /// (0: before the first layer): rank the current visual block by the stage's rule (the
    /// attention rule scores with the next layer, 0-based index `after_layer`) and gather the
    /// kept rows.
    ///
    /// # Shapes
    /// - `h`: `[1, L, hidden]` → `[1, L − (n_cur − keep), hidden]`
    fn drop_stage(
        &self,
        stage: &DropStage,
        h: Tensor<B, 3>,
        rows: &mut RowsOf<'_, B>,
        queries: &[usize],
    ) -> Tensor<B, 3> {
        let (n_cur, vs) = (rows.vis.len(), rows.visual_start);
        let keep = stage.keep.min(n_cur);
        let rel = match stage.rule {
            KeepRule::Uniform => uniform_keep(n_cur, keep),
            KeepRule::Attention => {
                let w = self.query_attention(stage.after_layer, h.clone(), &rows.pos, queries);
                let mut order: Vec<usize> = (0..n_cur).collect();
                let s = &w[vs..vs + n_cur];
                order.sort_by(|&a, &b| s[b].total_cmp(&s[a]).then(a.cmp(&b)));
                let mut top = order[..keep].to_vec();
                top.sort_unstable();
                top
            }
        };
        rows.gather(h, &rel, &[], stage.after_layer)
    }

    /// Run every layer on `input`, executing its drop plan; fills `cache` when given.
    ///
    /// # Panics
    /// When the plan is FrameFusion's and `input.frames` is missing or does not cover the
    /// visual block ([`hico_core::DropPlan::check_layout`]; the pipeline checks first).
    pub fn run(&self, input: PrefillInput<B>, mut cache: Option<&mut KvCache<B>>) -> RunOutput<B> {
        let PrefillInput {
            embeds,
            visual_start,
            visual_len,
            plan,
            queries,
            capture_layers,
            frames,
            kv_cache: _,
        } = input;
        let n_layers = self.model.layers.len();
        let mut h = embeds;
        let mut rows = RowsOf::new(&self.rope, h.dims()[1], visual_start, visual_len, n_layers);
        rows.positions = plan.positions;
        let mut fusion = plan.fusion.as_ref().map(|f| {
            if let Err(e) = plan.check_layout(frames, visual_len) {
                panic!("{e}");
            }
            let per_frame = frames.map_or(1, |l| l.per_frame);
            (FusionState::new(f.clone(), n_layers), per_frame)
        });
        let (mut attention, mut seq_lens) = (Vec::new(), Vec::new());
        let rows_of = |src: &[usize]| -> Vec<usize> {
            let q: Vec<usize> = queries
                .iter()
                .filter_map(|q| src.iter().position(|s| s == q))
                .collect();
            if q.is_empty() { vec![src.len() - 1] } else { q }
        };
        // A stage "after layer 0" drops before the first layer (e.g. `remove_all` with
        // `after_layer = 0`: the LLM never sees the video).
        if let Some(stage) = plan.stages.iter().find(|s| s.after_layer == 0) {
            let q = rows_of(&rows.src);
            h = self.drop_stage(stage, h, &mut rows, &q);
        }
        for (i, layer) in self.model.layers.iter().enumerate() {
            let l1 = i + 1;
            if let Some((f, per_frame)) = fusion.as_mut()
                && i == 0
            {
                h = framefusion::merge(f, &mut rows, h, *per_frame, 0);
            }
            if capture_layers.contains(&l1) {
                let w = self.query_attention(i, h.clone(), &rows.pos, &rows_of(&rows.src));
                let block = visual_start..visual_start + rows.vis.len();
                attention.push(LayerAttention {
                    layer: l1,
                    visual: rows
                        .vis
                        .iter()
                        .zip(&w[block.clone()])
                        .map(|(&v, &m)| (v, m))
                        .collect(),
                    text: w[..block.start].iter().chain(&w[block.end..]).sum(),
                });
            }
            seq_lens.push(h.dims()[1]);
            // The layer's cache holds the rows it attends over (before any drop in or after
            // it); the next token follows the last of them.
            let next_pos = rows.pos.last().map_or(0, |p| p + 1);
            let layer_cache = cache.as_deref_mut().map(|c| &mut c.layers[i]);
            match fusion.as_mut() {
                None => h = layer.forward(h, &rows.rope, layer_cache, &self.attention),
                Some((f, per_frame)) => {
                    // FrameFusion acts between the attention and the MLP of the layer; the
                    // pruning ranks by this layer's attention from the last row.
                    let importance = f.wants_importance().then(|| {
                        let last = h.dims()[1] - 1;
                        self.query_attention(i, h.clone(), &rows.pos, &[last])
                    });
                    h = layer.attn_residual(h, &rows.rope, layer_cache, &self.attention);
                    if let Some(w) = importance {
                        let n = rows.vis.len();
                        let keep = f.prune_step(&w[visual_start..visual_start + n]);
                        h = rows.gather(h, &keep, &[], l1);
                    } else if !f.merged {
                        h = framefusion::merge(f, &mut rows, h, *per_frame, l1);
                    }
                    h = layer.mlp_residual(h);
                }
            }
            if let Some(c) = cache.as_deref_mut() {
                c.next_pos[i] = next_pos;
            }
            if l1 < n_layers
                && let Some(stage) = plan.stages.iter().find(|s| s.after_layer == l1)
            {
                let q = rows_of(&rows.src);
                h = self.drop_stage(stage, h, &mut rows, &q);
            }
        }
        RunOutput {
            hidden: h,
            src: rows.src,
            trace: rows.trace,
            attention,
            seq_lens,
        }
    }
}
