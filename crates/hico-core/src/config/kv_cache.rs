//! The `[kv_cache]` section of a pipeline config: what the LLM does to its KV cache while
//! decoding (the fourth insertion point of docs/compression.md).

use serde::{Deserialize, Serialize};

/// A KV-cache method applied at every decode step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum KvCacheConfig {
    /// Attend to every cached entry (the default).
    #[default]
    None,
    /// DyCoke's dynamic KV-cache pruning (second stage; `hico_llm::dycoke`).
    Dycoke(DycokeKv),
}

impl KvCacheConfig {
    /// The `kind` tag, for tables and folder names.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Dycoke(_) => "dycoke",
        }
    }

    /// Whether this is `kind = "none"` (not written to configs).
    pub fn is_none(&self) -> bool {
        *self == Self::None
    }
}

/// DyCoke (Tao et al., CVPR 2025; `KD-TAO/DyCoke`,
/// `llava/model/language_model/modeling_qwen2.py`, `PrunableDynamicCache`): at each decode
/// step the new token's attention at layer `dycoke_l` (1-based; index `dycoke_l − 1`) picks
/// the visual entries the layers after it attend to. Names and defaults of the official
/// `load_pretrained_model` (`llava/model/builder.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DycokeKv {
    /// Layers `1..=dycoke_l` (1-based) attend to the whole cache and the last of them scores
    /// the visual entries; the layers after it attend to the kept ones (3).
    #[serde(default = "default_l")]
    pub dycoke_l: usize,
    /// Fraction of the visual entries pruned at a pruning step: `int(N · (1 − dycoke_p))`
    /// are kept (0.8, the builder's and `DycokeConfigs`' default; the README's example
    /// passes 0.7).
    #[serde(default = "default_p")]
    pub dycoke_p: f64,
    /// A step prunes only when the cosine similarity of its visual attention to the
    /// previous step's is below this (a constant 0.9 in the official code; a step at or
    /// above it attends to the whole cache).
    #[serde(default = "default_threshold")]
    pub similarity_threshold: f64,
}

impl Default for DycokeKv {
    fn default() -> Self {
        Self {
            dycoke_l: default_l(),
            dycoke_p: default_p(),
            similarity_threshold: default_threshold(),
        }
    }
}

impl DycokeKv {
    /// Visual entries a pruning step keeps of `n`: Python's `int(n * (1 - p))`.
    pub fn keep(&self, n: usize) -> usize {
        (n as f64 * (1.0 - self.dycoke_p)) as usize
    }
}

fn default_l() -> usize {
    3
}
fn default_p() -> f64 {
    0.8
}
fn default_threshold() -> f64 {
    0.9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_official() {
        let c: KvCacheConfig = toml::from_str("kind = \"dycoke\"").unwrap();
        let KvCacheConfig::Dycoke(d) = &c else {
            panic!("parsed as {c:?}")
        };
        assert_eq!(
            (d.dycoke_l, d.dycoke_p, d.similarity_threshold),
            (3, 0.8, 0.9)
        );
        assert_eq!(c.kind(), "dycoke");
        // Python's int(10 * (1 - 0.8)) is 1 (0.19999999999999996 · 10).
        assert_eq!(d.keep(10), 1);
        assert_eq!(d.keep(100), 19);
        assert!(KvCacheConfig::default().is_none());
        assert!(toml::from_str::<KvCacheConfig>("kind = \"dycoke\"\ndycoke_k = 1").is_err());
    }
}
