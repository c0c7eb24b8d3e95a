//! The KV cache: per layer, rotated keys and values of every token seen so far (before the
//! GQA head repeat) in a preallocated buffer written in place, and per layer the position id
//! of the next token. After a visual drop, layers past the drop hold shorter caches and (with
//! renumbered positions) smaller next positions, exactly as the reference shifts decode
//! positions per layer. A `[kv_cache]` method's decode-time state rides along
//! ([`crate::dycoke`]).

use burn::tensor::{Tensor, backend::Backend};
use hico_backend::HicoBackend;

/// Free token slots a cache keeps after its first write (a short answer never reallocates).
pub const HEADROOM: usize = 256;

/// Keys and values of one layer: `[1, kv_heads, capacity, head_dim]` buffers of which the
/// first `len` tokens are filled.
#[derive(Debug, Clone, Default)]
pub struct LayerKv<B: Backend> {
    /// Key and value buffers, `None` before the first token.
    pub buffers: Option<(Tensor<B, 4>, Tensor<B, 4>)>,
    /// Filled tokens.
    pub len: usize,
}

impl<B: HicoBackend> LayerKv<B> {
    /// Cached tokens.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Tokens the buffers hold before they must grow.
    pub fn capacity(&self) -> usize {
        self.buffers.as_ref().map_or(0, |(k, _)| k.dims()[2])
    }

    /// Write new keys/values after the cached ones, in place (the buffers grow to
    /// `max(2 × capacity, needed + HEADROOM)` when full). Returns the keys and values to
    /// attend over and the old length `T`: on the first write the new tensors themselves,
    /// afterwards the whole buffers, of which only the first `T + L_new` tokens are filled
    /// ([`crate::attention::causal_attention`] never reads past them), so a decode step
    /// copies nothing.
    ///
    /// # Shapes
    /// - `k`, `v`: `[1, kv_heads, L_new, head_dim]` → `[1, kv_heads, ≥ T + L_new, head_dim]`
    pub fn append(
        &mut self,
        k: Tensor<B, 4>,
        v: Tensor<B, 4>,
    ) -> (Tensor<B, 4>, Tensor<B, 4>, usize) {
        let [_, h, n, d] = k.dims();
        let old = self.len;
        let need = old + n;
        let (kb, vb) = match self.buffers.take() {
            Some((kb, vb)) if kb.dims()[2] >= need => (kb, vb),
            prev => {
                let cap = (2 * self.capacity()).max(need + HEADROOM);
                let grow = |b: Option<Tensor<B, 4>>| {
                    let fresh = Tensor::<B, 4>::zeros([1, h, cap, d], &k.device());
                    match b {
                        Some(b) if old > 0 => fresh.slice_assign(
                            [0..1, 0..h, 0..old, 0..d],
                            b.slice([0..1, 0..h, 0..old, 0..d]),
                        ),
                        _ => fresh,
                    }
                };
                let (pk, pv) = prev.map_or((None, None), |(a, b)| (Some(a), Some(b)));
                (grow(pk), grow(pv))
            }
        };
        let kb = kb.slice_assign([0..1, 0..h, old..need, 0..d], k.clone());
        let vb = vb.slice_assign([0..1, 0..h, old..need, 0..d], v.clone());
        self.buffers = Some((kb.clone(), vb.clone()));
        self.len = need;
        if old == 0 { (k, v, 0) } else { (kb, vb, old) }
    }
}

/// Decoding state of a model after a prefill.
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    /// One entry per decoder layer.
    pub layers: Vec<LayerKv<B>>,
    /// Position id of the next token at each layer.
    pub next_pos: Vec<usize>,
    /// DyCoke's decode-time pruning of the visual entries (`[kv_cache] kind = "dycoke"`);
    /// `None` attends to every entry.
    pub dycoke: Option<crate::dycoke::DycokeState>,
}

impl<B: HicoBackend> KvCache<B> {
    /// An empty cache for `n_layers` layers.
    pub fn new(n_layers: usize) -> Self {
        Self {
            layers: (0..n_layers).map(|_| LayerKv::default()).collect(),
            next_pos: vec![0; n_layers],
            dycoke: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use hico_backend::Cpu;

    /// Appending in pieces (through a reallocation) gives the concatenation of the pieces.
    #[test]
    fn appends_equal_concatenation_across_growth() {
        let dev = Default::default();
        let r = |n| Tensor::<Cpu, 4>::random([1, 2, n, 4], Distribution::Default, &dev);
        let mut kv = LayerKv::<Cpu>::default();
        let pieces: Vec<_> = [5, 1, HEADROOM, 3].iter().map(|&n| (r(n), r(n))).collect();
        let mut seen = 0;
        for (k, v) in &pieces {
            let (all_k, all_v, old) = kv.append(k.clone(), v.clone());
            assert_eq!(old, seen);
            seen += k.dims()[2];
            assert!(all_k.dims()[2] >= seen && all_v.dims()[2] >= seen);
        }
        assert!(kv.capacity() > seen);
        let cat = |i: usize| {
            Tensor::cat(
                pieces
                    .iter()
                    .map(|p| if i == 0 { p.0.clone() } else { p.1.clone() })
                    .collect(),
                2,
            )
        };
        let (k, v) = kv.buffers.clone().unwrap();
        k.slice([0..1, 0..2, 0..seen, 0..4])
            .into_data()
            .assert_eq(&cat(0).into_data(), true);
        v.slice([0..1, 0..2, 0..seen, 0..4])
            .into_data()
            .assert_eq(&cat(1).into_data(), true);
    }
}
