//! # hico-compress
//!
//! The token-compression zoo: published methods that shorten a video's visual tokens, each
//! written from its official code (docs/compression.md gives, per method, the paper, the
//! repository file and function, and the rule in a line), on plain f32 slices so that this
//! crate builds in seconds and its parity tests need no model.
//!
//! A method reads an [`Input`] (`[t, n, c]` tokens, optionally the question's embeddings and
//! the attention each token received in the encoder) and returns a [`Plan`]: every output
//! token as a weighted sum of input tokens. The pipeline (hico-model) applies the plan to the
//! LLM-width visual tokens between the connector and the LLM (the `[video_compressor]`
//! slot); `hico compress` applies it to a safetensors file ([`io`]). The Python references in
//! `scripts/compress_ref/` make the fixtures `tests/parity.rs` compares against.
//!
//! | kind | rule |
//! |---|---|
//! | `none` | keep every token (the default) |
//! | `random` | seeded uniform choice over the whole video ([`methods::random`]) |
//! | `downsample` | per-frame adaptive average pooling to `√k × √k` ([`methods::downsample`]) |
//! | `visionzip` | per frame, the most-attended tokens + merged contextual ones ([`methods::visionzip`]) |
//! | `vidcom2` | VidCom²: softmax frame-uniqueness budgets, per frame the tokens least like the frame and video centres ([`methods::vidcom2`]) |
//! | `dycoke_ttm` | DyCoke TTM: in each window of 4 frames the last 3 keep only their tokens least similar to an earlier frame ([`methods::dycoke_ttm`]) |
//! | `divprune` | greedy max-min cosine diversity over the whole video ([`methods::divprune`]) |
//! | `cdpruner` | per-frame greedy DPP over query-conditioned cosine similarity ([`methods::cdpruner`]) |
//! | `prunevid` | frames segmented by DPC-KNN; static tokens averaged over a segment; DPC-KNN spatial merging ([`methods::prunevid`]) |
//! | `fastvid` | dynamic segments; per frame the most-attended tokens plus density anchors merging their segment ([`methods::fastvid`]) |
//! | `llava_scissor` | semantic connected components per frame, then over the video, then every token merged into its nearest ([`methods::llava_scissor`]) |
//! | `holitom` | DP-chosen static windows merged over time, then density-peak / attention merges ([`methods::holitom`]) |
//! | `vispruner` | per frame, the most-attended tokens plus diverse ones left by rounds of near-duplicate removal ([`methods::vispruner`]) |

pub mod error;
pub mod input;
pub mod io;
pub mod methods;
pub mod plan;
pub mod util;

use serde::{Deserialize, Serialize};

pub use error::{CompressError, Result};
pub use input::Input;
pub use plan::Plan;

/// What a method reads beside the tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Each frame's tokens as a square grid.
    pub grid: bool,
    /// The question's token embeddings.
    pub query: bool,
    /// The attention each token receives in the encoder's last layer.
    pub attention: bool,
}

/// One method: its parameters (a serde struct named as the official code names them, with
/// its video defaults) and its rule.
pub trait Rule {
    /// The `kind` string.
    const KIND: &'static str;
    /// What the method reads beside the tokens.
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Decide which tokens to keep or merge.
    fn plan(&self, x: &Input) -> Result<Plan>;
}

/// Declares [`Method`]: one line per method, `Variant(path::Type)`; the variant's snake-case
/// name is the `kind`.
macro_rules! methods {
    ($($(#[$doc:meta])* $variant:ident($ty:ty),)*) => {
        /// A compression method and its parameters: one `[compressor]` table of `hico
        /// compress`, or the `[video_compressor]` section of a pipeline config. Parameters
        /// are named as the official code names them; defaults are its video settings.
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
        pub enum Method {
            $($(#[$doc])* $variant($ty),)*
        }

        impl Method {
            /// The `kind` string.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => <$ty as Rule>::KIND,)*
                }
            }

            /// What the method reads beside the tokens.
            pub fn needs(&self) -> Needs {
                match self {
                    $(Self::$variant(m) => m.needs(),)*
                }
            }

            fn plan_unchecked(&self, x: &Input) -> Result<Plan> {
                match self {
                    $(Self::$variant(m) => m.plan(x),)*
                }
            }

            /// Every `kind`, in declaration order.
            pub const KINDS: &'static [&'static str] = &[$(<$ty as Rule>::KIND,)*];
        }
    };
}

methods! {
    /// Keep every token (the default).
    #[serde(rename = "none")]
    None(methods::none::NoCompression),
    /// Seeded uniform choice over the whole video (baseline).
    Random(methods::random::Random),
    /// Per-frame adaptive average pooling (baseline).
    Downsample(methods::downsample::Downsample),
    /// VisionZip: per frame, the most-attended tokens plus a few merged contextual tokens.
    Visionzip(methods::visionzip::VisionZip),
    /// VidCom²: frame-uniqueness budgets, most distinct tokens per frame (EMNLP 2025).
    Vidcom2(methods::vidcom2::Vidcom2),
    /// DyCoke's temporal token merging (TTM): windows of 4 frames, later frames pruned.
    DycokeTtm(methods::dycoke_ttm::DycokeTtm),
    /// DivPrune: greedy max-min cosine diversity over the whole video (CVPR 2025).
    Divprune(methods::divprune::Divprune),
    /// CDPruner: per-frame DPP over query-conditioned similarity (NeurIPS 2025).
    Cdpruner(methods::cdpruner::Cdpruner),
    /// PruneVid's spatial-temporal merging: static tokens averaged per segment, DPC-KNN clusters.
    Prunevid(methods::prunevid::PruneVid),
    /// FastVID: dynamic segments, salient tokens and density-anchor merging (arXiv 2503.11187).
    Fastvid(methods::fastvid::FastVid),
    /// Semantic connected components, per frame then over the video, then a merge (LLaVA-Scissor).
    LlavaScissor(methods::llava_scissor::LlavaScissor),
    /// HoliTom's outer-LLM merging: static windows, then density-peak and attention merges.
    Holitom(methods::holitom::Holitom),
    /// VisPruner: per frame, the most-attended tokens plus diverse ones (ICCV 2025).
    Vispruner(methods::vispruner::VisPruner),
    // (new methods: one line above this comment)
}

impl Default for Method {
    fn default() -> Self {
        Self::None(methods::none::NoCompression {})
    }
}

impl Method {
    /// Whether this is `none` (every token kept).
    pub fn is_none(&self) -> bool {
        matches!(self, Self::None(_))
    }

    /// Decide which tokens to keep or merge, after checking the input against what the
    /// method reads; the plan is checked against the input size.
    pub fn plan(&self, x: &Input) -> Result<Plan> {
        let kind = self.kind();
        let input = |msg: String| CompressError::Input { method: kind, msg };
        if x.is_empty() || x.c == 0 {
            return Err(input(format!(
                "no tokens to compress (t = {}, n = {}, c = {})",
                x.t, x.n, x.c
            )));
        }
        if let Some(a) = x.attention
            && a.len() != x.len()
        {
            return Err(input(format!(
                "`attention` holds {} values, not t·n = {}",
                a.len(),
                x.len()
            )));
        }
        if let Some((q, rows)) = x.query
            && q.len() != rows * x.c
        {
            return Err(input(format!(
                "`query` holds {} values, not q·c = {rows}·{}",
                q.len(),
                x.c
            )));
        }
        let needs = self.needs();
        if needs.grid {
            x.square_side(kind)?;
        }
        if needs.query {
            x.require_query(kind)?;
        }
        if needs.attention {
            x.require_attention(kind)?;
        }
        let plan = self.plan_unchecked(x)?;
        plan.check(x.len())
            .map_err(|msg| input(format!("internal: {msg}")))?;
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_with_defaults_and_reject_unknown_keys() {
        let m: Method = toml::from_str("kind = \"random\"\nseed = 3").unwrap();
        assert_eq!(
            m,
            Method::Random(methods::random::Random {
                retention_ratio: 0.25,
                seed: 3
            })
        );
        let e = toml::from_str::<Method>("kind = \"random\"\nratio = 0.5").unwrap_err();
        assert!(e.to_string().contains("ratio"), "{e}");
        assert!(toml::from_str::<Method>("kind = \"nope\"").is_err());
    }
}
