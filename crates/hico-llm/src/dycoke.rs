//! DyCoke's dynamic KV-cache pruning while decoding (Tao et al., "DyCoke: Dynamic
//! Compression of Tokens for Fast Video Large Language Models", CVPR 2025; `KD-TAO/DyCoke`,
//! `llava/model/language_model/modeling_qwen2.py`: `PrunableDynamicCache.dycoke_pruning`,
//! `update_cache`, `update`, driven from `Qwen2Model.forward`). Its first stage (temporal
//! token merging before the LLM) is `dycoke_ttm` in hico-compress.
//!
//! At every decode step (one new token; the prefill is untouched):
//! 1. layers `0 .. l` (`l = dycoke_l`) attend to the whole cache;
//! 2. layer `l − 1`'s softmax attention of the new token to every cached key (itself
//!    included), averaged over the query heads, is read on the visual block: `a_t`;
//! 3. `s = cos(a_t, a_{t−1})` (0 at the first step), and `a_t` is remembered;
//! 4. if `s < similarity_threshold`, layers `l ..` attend to the text entries, the new
//!    token and the `int(N · (1 − dycoke_p))` visual entries of largest `a_t`; otherwise
//!    (attention much as the step before) they attend to the whole cache.
//!
//! Nothing leaves the cache: every entry keeps its key (rotated at its own position), so a
//! later step may pick an entry an earlier one skipped. Pruned layers gather the kept rows of
//! their cache (as the official `torch.gather`), so they read fewer entries.

use burn::tensor::{Int, Tensor, TensorData, activation::softmax};
use hico_backend::HicoBackend;
use hico_backend::nn::RowLinear;
use hico_core::config::{DycokeKv, KvCacheConfig};
use hico_core::{DropPlan, PrefillInput};

use crate::attention::decoder_attention;
use crate::cache::{KvCache, LayerKv};
use crate::layer::DecoderLayer;
use crate::{CausalLm, ids_tensor};

/// The decode-time state of DyCoke over one prefilled sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct DycokeState {
    /// The parameters.
    pub cfg: DycokeKv,
    /// Cache index of the first visual entry.
    pub visual_start: usize,
    /// Visual entries N (contiguous from `visual_start`).
    pub visual_len: usize,
    /// The previous step's visual attention `a_{t−1}` (none before the first step).
    pub previous: Option<Vec<f32>>,
    /// Visual entries the pruned layers attended to at each decode step so far.
    pub used: Vec<usize>,
    /// Cosine similarity of each step's visual attention to the previous step's (0 at the
    /// first).
    pub similarity: Vec<f64>,
}

impl DycokeState {
    /// The state a prefill of `input` leaves for decoding, when its `[kv_cache]` is DyCoke
    /// and it has visual tokens.
    ///
    /// # Panics
    /// When the input's drop plan removes visual tokens in the prefill (the pipeline's
    /// config check refuses `kv_cache.kind = "dycoke"` with a `[dropout]`): layers would
    /// then hold different visual blocks.
    pub fn for_input<B: HicoBackend>(input: &PrefillInput<B>) -> Option<Self> {
        let KvCacheConfig::Dycoke(cfg) = &input.kv_cache else {
            return None;
        };
        assert!(
            input.plan == DropPlan::none(),
            "kv_cache.kind = \"dycoke\" needs a prefill that keeps every visual token \
             (dropout.kind = \"none\")"
        );
        (input.visual_len > 0).then(|| Self {
            cfg: cfg.clone(),
            visual_start: input.visual_start,
            visual_len: input.visual_len,
            previous: None,
            used: Vec::new(),
            similarity: Vec::new(),
        })
    }

    /// Steps 3–4 for one step's visual attention `a_t` (N values): the kept visual
    /// indices (0-based in the block, increasing), or `None` to attend to all of them.
    pub fn choose(&mut self, attention: Vec<f32>) -> Option<Vec<usize>> {
        let s = self
            .previous
            .as_ref()
            .map_or(0.0, |p| cosine(&attention, p));
        self.similarity.push(s);
        let keep = (s < self.cfg.similarity_threshold)
            .then(|| top_k(&attention, self.cfg.keep(self.visual_len)));
        self.previous = Some(attention);
        self.used
            .push(keep.as_ref().map_or(self.visual_len, |k| k.len()));
        keep
    }

    /// Cache indices a pruned layer attends to over `n` cached entries (the new token's
    /// included): the text before the visual block, the kept visual entries, everything
    /// after the block.
    fn cache_rows(&self, kept: &[usize], n: usize) -> Vec<i64> {
        let (s, end) = (self.visual_start, self.visual_start + self.visual_len);
        (0..s)
            .chain(kept.iter().map(|&k| s + k))
            .chain(end..n)
            .map(|i| i as i64)
            .collect()
    }
}

/// `torch.nn.functional.cosine_similarity` of two vectors (eps 1e-8).
fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| f64::from(x) * f64::from(y))
        .sum();
    let n = |v: &[f32]| v.iter().map(|&x| f64::from(x).powi(2)).sum::<f64>();
    dot / (n(a) * n(b)).max(1e-16).sqrt()
}

/// Indices of the `k` largest values (ties to the lower index), increasing.
fn top_k(v: &[f32], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

/// Softmax attention of one query row to the first `n` cached keys, averaged over the query
/// heads: `q` `[1, heads, 1, d]`, `k` `[1, kv_heads, ≥ n, d]` → `n` weights.
fn mean_attention<B: HicoBackend>(q: &Tensor<B, 4>, k: &Tensor<B, 4>, n: usize) -> Tensor<B, 1> {
    let [_, heads, _, d] = q.dims();
    let kv = k.dims()[1];
    // Query head j uses key head j / (heads / kv), as HF's repeat_kv.
    let q = q.clone().reshape([1, kv, heads / kv, d]);
    let k = k.clone().slice([0..1, 0..kv, 0..n, 0..d]);
    let s = q
        .matmul(k.swap_dims(2, 3))
        .mul_scalar(1.0 / (d as f64).sqrt());
    softmax(s, 3).reshape([heads, n]).mean_dim(0).reshape([n])
}

/// One decoder layer on the new token's row, attending to the cache rows `rows` (all of
/// them when `None`); returns the layer output and, when `score` is set, the visual
/// attention `a_t` of this layer.
///
/// # Shapes
/// - `h`: `[1, 1, hidden]` → `[1, 1, hidden]`
fn layer_step<B: HicoBackend>(
    lm: &CausalLm<B>,
    layer: &DecoderLayer<B>,
    h: Tensor<B, 3>,
    pos: usize,
    kv: &mut LayerKv<B>,
    rows: Option<&Tensor<B, 1, Int>>,
    score: Option<&DycokeState>,
) -> (Tensor<B, 3>, Option<Vec<f32>>) {
    let a = &layer.self_attn;
    let rope = lm.rope.at(&[pos]);
    let x = hico_backend::nn::rms_norm(&layer.input_layernorm, h.clone());
    let q = a.queries(x.clone(), &rope);
    let (k, v) = a.keys_values(x, &rope);
    let (k, v, old) = kv.append(k, v);
    let n = old + 1;
    let visual = score.map(|st| {
        let w = mean_attention(&q, &k, n).narrow(0, st.visual_start, st.visual_len);
        w.into_data()
            .convert::<f32>()
            .to_vec()
            .expect("f32 attention")
    });
    let o = match rows {
        None => decoder_attention(q, k, v, old, &lm.attention),
        Some(r) => {
            let kept = r.dims()[0];
            let (k, v) = (k.select(2, r.clone()), v.select(2, r.clone()));
            decoder_attention(q, k, v, kept - 1, &lm.attention)
        }
    };
    let o = a
        .o_proj
        .forward_rows(o.swap_dims(1, 2).reshape([1, 1, a.heads * a.head_dim]));
    (layer.mlp_residual(h + o), visual)
}

/// One decode step under DyCoke (the cache's [`DycokeState`] is set): as
/// [`hico_core::LanguageModel::decode_step`], with the layers after `dycoke_l` attending to
/// the visual entries the rule keeps.
pub fn decode_step<B: HicoBackend>(
    lm: &CausalLm<B>,
    token: u32,
    cache: &mut KvCache<B>,
) -> Tensor<B, 2> {
    let mut state = cache.dycoke.take().expect("a DyCoke cache");
    let device = lm.device();
    let l = state.cfg.dycoke_l;
    let mut h = lm.embed_ids(ids_tensor(&[token], &device));
    let mut rows: Option<Tensor<B, 1, Int>> = None;
    let mut pruned_any = false;
    for (i, layer) in lm.model.layers.iter().enumerate() {
        let score = (i + 1 == l).then_some(&state);
        let (out, visual) = layer_step(
            lm,
            layer,
            h,
            cache.next_pos[i],
            &mut cache.layers[i],
            rows.as_ref(),
            score,
        );
        h = out;
        cache.next_pos[i] += 1;
        if let Some(a) = visual {
            pruned_any = true;
            let n = cache.layers[i].len();
            rows = state.choose(a).map(|kept| {
                let r = state.cache_rows(&kept, n);
                let len = r.len();
                Tensor::from_data(TensorData::new(r, [len]), &device)
            });
        }
    }
    if !pruned_any {
        // `dycoke_l` at or past the last layer: no layer is pruned.
        state.used.push(state.visual_len);
    }
    cache.dycoke = Some(state);
    lm.head_rows(h, &[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_largest_in_cache_order() {
        assert_eq!(top_k(&[0.1, 0.5, 0.2, 0.5, 0.05], 3), vec![1, 2, 3]);
        assert_eq!(top_k(&[0.1, 0.5], 0), Vec::<usize>::new());
    }

    #[test]
    fn prunes_below_the_threshold_and_attends_to_all_above() {
        let mut st = DycokeState {
            cfg: DycokeKv::default(),
            visual_start: 2,
            visual_len: 10,
            previous: None,
            used: vec![],
            similarity: vec![],
        };
        let a: Vec<f32> = (0..10).map(|i| i as f32).collect();
        // First step: similarity 0, prune to int(10 · 0.2) = 1.
        assert_eq!(st.choose(a.clone()), Some(vec![9]));
        // Same attention again: similarity 1 ≥ 0.9, attend to all.
        assert_eq!(st.choose(a.clone()), None);
        let b: Vec<f32> = (0..10).map(|i| (9 - i) as f32).collect();
        assert_eq!(st.choose(b), Some(vec![0]));
        assert_eq!(st.used, vec![1, 10, 1]);
        assert_eq!(st.cache_rows(&[0], 14), vec![0, 1, 2, 12, 13]);
    }
}
