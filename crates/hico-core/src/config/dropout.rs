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

/// The stages of a dropout config (`None` for `kind = "none"`).
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
        DropoutConfig::None => None,
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
    }
}
