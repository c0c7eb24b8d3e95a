//! The dropout section of a pipeline config (progressive visual-token drop inside the LLM)
//! and its normal form [`Stages`].

use serde::{Deserialize, Serialize};

use crate::{KeepRule, PositionMode};

/// Progressive visual-token dropout inside the LLM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DropoutConfig {
    /// Drop nothing.
    #[default]
    None,
    /// Keep evenly spaced visual tokens at each stage.
    Uniform(StagedDrop),
    /// Keep the visual tokens the query attends to most (the reference rule).
    Attention(StagedDrop),
    /// Uniform at the first stage, attention after (the released model's).
    Uniform0Attention(StagedDrop),
    /// FastV: after layer `layer`, drop a fraction `ratio` by attention.
    Fastv(FastvDrop),
    /// PyramidDrop-style attention stages (default: 0.5, 0.25, 0.125 after 8, 16, 24).
    Pyramid(StagedDrop),
    /// FrameFusion: merge each visual token into its same-position token of an earlier frame
    /// while they are similar (shallow layers), then prune by attention to a compute budget.
    #[serde(rename = "framefusion")]
    FrameFusion(FrameFusionDrop),
    /// Remove every visual token after layer `after_layer` (0: before the first layer, so
    /// the LLM never sees the video): the drop-depth probe, not a compression method.
    RemoveAll(RemoveAllDrop),
}

impl DropoutConfig {
    /// The `kind` tag, for tables and folder names.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Uniform(_) => "uniform",
            Self::Attention(_) => "attention",
            Self::Uniform0Attention(_) => "uniform0_attention",
            Self::Fastv(_) => "fastv",
            Self::Pyramid(_) => "pyramid",
            Self::FrameFusion(_) => "framefusion",
            Self::RemoveAll(_) => "remove_all",
        }
    }
}

/// Staged drop: after each 1-based layer in `layers`, keep `ratios[s+1]` of the ORIGINAL
/// visual count (`ratios[0]` is the input, 1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StagedDrop {
    /// 1-based layers after which to drop.
    #[serde(default = "default_layers")]
    pub layers: Vec<usize>,
    /// Fractions of the original count, one more than `layers`, starting with 1.0.
    #[serde(default = "default_ratios")]
    pub ratios: Vec<f64>,
    /// Position handling after a drop.
    #[serde(default)]
    pub positions: PositionMode,
}

fn default_layers() -> Vec<usize> {
    vec![8, 16, 24]
}
fn default_ratios() -> Vec<f64> {
    vec![1.0, 0.5, 0.25, 0.125]
}

/// Every visual token removed after one layer (`kind = "remove_all"`): how much of the
/// answer a model still needs from the video after its first `after_layer` layers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoveAllDrop {
    /// Decoder layers that see the visual tokens: they are removed after this 1-based layer,
    /// or before the first layer when 0. Must be below the LLM's depth (at the depth
    /// nothing is removed: use `none`).
    pub after_layer: usize,
    /// Position handling after the drop (`renumber`: the text after the video continues at
    /// the next position, as if the video had never been there when `after_layer = 0`).
    #[serde(default)]
    pub positions: PositionMode,
}

/// FastV: one attention-ranked drop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FastvDrop {
    /// 1-based layer after which to drop (2 in FastV).
    #[serde(default = "default_fastv_layer")]
    pub layer: usize,
    /// Fraction of the visual tokens to DROP (0.5 in FastV).
    #[serde(default = "default_fastv_ratio")]
    pub ratio: f64,
    /// Position handling after a drop.
    #[serde(default)]
    pub positions: PositionMode,
}

fn default_fastv_layer() -> usize {
    2
}
fn default_fastv_ratio() -> f64 {
    0.5
}

/// FrameFusion (Fu et al., ICCV 2025; `thu-nics/FrameFusion`, `framefusion/main.py`): the
/// parameters of `apply_framefusion(model, cost, similarity_lower_bound, ratio_lower_bound)`
/// with the README's defaults. The rule is data-dependent, so it has no [`Stages`]; the LLM
/// runs it (`hico_llm::framefusion`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameFusionDrop {
    /// Compute budget: the mean over decoder layers of the fraction of visual tokens left,
    /// which merging and the one pruning step aim at (0.3).
    #[serde(default = "default_ff_cost")]
    pub cost: f64,
    /// A token merges into its same-position predecessor when their cosine similarity is at
    /// least this (0.6; the paper's S_th, per model).
    #[serde(default = "default_ff_similarity")]
    pub similarity_lower_bound: f64,
    /// Merging stops (and pruning follows) at the first step that merges less than this
    /// fraction of the visual tokens (0.1).
    #[serde(default = "default_ff_ratio")]
    pub ratio_lower_bound: f64,
    /// Position handling: `keep` is the official (surviving tokens keep their rotary
    /// positions).
    #[serde(default = "default_ff_positions")]
    pub positions: PositionMode,
}

impl Default for FrameFusionDrop {
    fn default() -> Self {
        Self {
            cost: default_ff_cost(),
            similarity_lower_bound: default_ff_similarity(),
            ratio_lower_bound: default_ff_ratio(),
            positions: default_ff_positions(),
        }
    }
}

fn default_ff_cost() -> f64 {
    0.3
}
fn default_ff_similarity() -> f64 {
    0.6
}
fn default_ff_ratio() -> f64 {
    0.1
}
fn default_ff_positions() -> PositionMode {
    PositionMode::Keep
}

/// A schedule's stages in one normal form: after `layers[s]`, keep `ratios[s+1]` of the
/// original visual count, ranked by `rules[s]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Stages {
    /// 1-based layers after which to drop.
    pub layers: Vec<usize>,
    /// Fractions of the original count, `layers.len() + 1` of them, from 1.0.
    pub ratios: Vec<f64>,
    /// Ranking rule of each stage.
    pub rules: Vec<KeepRule>,
    /// Position handling.
    pub positions: PositionMode,
}

/// The stages of a dropout config (`None` for `kind = "none"` and for `framefusion`, whose
/// drops depend on the hidden states).
pub fn staged(cfg: &DropoutConfig) -> Option<Stages> {
    use KeepRule::*;
    let make = |s: &StagedDrop, first: KeepRule, rest: KeepRule| Stages {
        layers: s.layers.clone(),
        ratios: s.ratios.clone(),
        rules: (0..s.layers.len())
            .map(|i| if i == 0 { first } else { rest })
            .collect(),
        positions: s.positions,
    };
    match cfg {
        DropoutConfig::None | DropoutConfig::FrameFusion(_) => None,
        DropoutConfig::Uniform(s) => Some(make(s, Uniform, Uniform)),
        DropoutConfig::Attention(s) | DropoutConfig::Pyramid(s) => {
            Some(make(s, Attention, Attention))
        }
        DropoutConfig::Uniform0Attention(s) => Some(make(s, Uniform, Attention)),
        DropoutConfig::Fastv(f) => Some(Stages {
            layers: vec![f.layer],
            ratios: vec![1.0, 1.0 - f.ratio],
            rules: vec![Attention],
            positions: f.positions,
        }),
        DropoutConfig::RemoveAll(r) => Some(Stages {
            layers: vec![r.after_layer],
            ratios: vec![1.0, 0.0],
            rules: vec![Uniform],
            positions: r.positions,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DropPlan, FrameLayout};

    #[test]
    fn framefusion_defaults_are_the_official_and_need_a_layout() {
        let c: DropoutConfig = toml::from_str("kind = \"framefusion\"").unwrap();
        let DropoutConfig::FrameFusion(f) = &c else {
            panic!("parsed as {c:?}")
        };
        assert_eq!(f, &FrameFusionDrop::default());
        assert_eq!(
            (f.cost, f.similarity_lower_bound, f.ratio_lower_bound),
            (0.3, 0.6, 0.1)
        );
        assert_eq!(f.positions, PositionMode::Keep);
        assert_eq!(c.kind(), "framefusion");
        assert!(staged(&c).is_none());
        let plan = DropPlan {
            fusion: Some(f.clone()),
            ..DropPlan::none()
        };
        let err = plan.check_layout(None, 12).unwrap_err().to_string();
        assert!(err.contains("dropout.kind = \"framefusion\""), "{err}");
        let l = |frames, per_frame| Some(FrameLayout { frames, per_frame });
        assert!(plan.check_layout(l(3, 4), 12).is_ok());
        assert!(plan.check_layout(l(3, 5), 12).is_err());
        assert!(DropPlan::none().check_layout(None, 12).is_ok());
    }

    #[test]
    fn remove_all_is_one_stage_keeping_nothing() {
        let c: DropoutConfig = toml::from_str("kind = \"remove_all\"\nafter_layer = 0").unwrap();
        assert_eq!(c.kind(), "remove_all");
        let s = staged(&c).unwrap();
        assert_eq!((s.layers, s.ratios), (vec![0], vec![1.0, 0.0]));
        assert!(toml::from_str::<DropoutConfig>("kind = \"remove_all\"").is_err());
    }
}
