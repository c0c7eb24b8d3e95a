//! The six dropout schedules as one [`DropoutSchedule`]: every config kind reduces to
//! stages (`hico_core::config::staged`), and a stage keeps `int(N · ratio)` of the ORIGINAL
//! N visual tokens (truncation, as the reference). Position handling is the config's:
//! `renumber` (the reference: contiguous ids after each drop, so decode positions shift down
//! by the number dropped) or `keep` (survivors keep their original ids, decode continues
//! after the original prompt length). FrameFusion (`framefusion`) has no stages: its plan
//! carries the parameters and the prefill decides per layer.

use hico_core::config::{DropoutConfig, FrameFusionDrop, Stages, staged};
use hico_core::{DropPlan, DropStage, DropoutSchedule};

/// A staged schedule (`none` has no stages).
#[derive(Debug, Clone)]
pub struct StagedSchedule {
    /// Config kind, for messages.
    pub kind: &'static str,
    /// Stages, or `None` for `none`.
    pub stages: Option<Stages>,
}

impl DropoutSchedule for StagedSchedule {
    fn plan(&self, n_layers: usize, n_visual: usize) -> DropPlan {
        let Some(s) = &self.stages else {
            return DropPlan::none();
        };
        let stages = s
            .layers
            .iter()
            .zip(&s.rules)
            .enumerate()
            .filter(|(_, (l, _))| **l < n_layers && n_visual > 0)
            .map(|(i, (&after_layer, &rule))| DropStage {
                after_layer,
                keep: (n_visual as f64 * s.ratios[i + 1]) as usize,
                rule,
            })
            .collect();
        DropPlan {
            stages,
            positions: s.positions,
            fusion: None,
        }
    }
}

/// FrameFusion's schedule: no stages; the prefill runs its data-dependent rule
/// ([`crate::framefusion`]).
#[derive(Debug, Clone)]
pub struct FusionSchedule(pub FrameFusionDrop);

impl DropoutSchedule for FusionSchedule {
    fn plan(&self, _n_layers: usize, _n_visual: usize) -> DropPlan {
        DropPlan {
            stages: Vec::new(),
            positions: self.0.positions,
            fusion: Some(self.0.clone()),
        }
    }
}

/// Build the schedule of a `[dropout]` config.
pub fn build_schedule(cfg: &DropoutConfig) -> Box<dyn DropoutSchedule> {
    match cfg {
        DropoutConfig::FrameFusion(f) => Box::new(FusionSchedule(f.clone())),
        _ => Box::new(StagedSchedule {
            kind: cfg.kind(),
            stages: staged(cfg),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hico_core::KeepRule;
    use hico_core::config::{FastvDrop, StagedDrop};

    #[test]
    fn keep_counts_truncate_fractions_of_the_original() {
        let cfg = DropoutConfig::Uniform0Attention(StagedDrop {
            layers: vec![4, 18],
            ratios: vec![1.0, 0.75, 0.25],
            positions: Default::default(),
        });
        let p = build_schedule(&cfg).plan(28, 1001);
        let keeps: Vec<usize> = p.stages.iter().map(|s| s.keep).collect();
        assert_eq!(keeps, vec![750, 250]);
        assert_eq!(p.stages[0].rule, KeepRule::Uniform);
        assert_eq!(p.stages[1].rule, KeepRule::Attention);
        let f = build_schedule(&DropoutConfig::Fastv(FastvDrop {
            layer: 2,
            ratio: 0.5,
            positions: Default::default(),
        }));
        assert_eq!(
            f.plan(24, 11).stages,
            vec![DropStage {
                after_layer: 2,
                keep: 5,
                rule: KeepRule::Attention
            }]
        );
        assert!(
            build_schedule(&DropoutConfig::None)
                .plan(24, 100)
                .stages
                .is_empty()
        );
    }
}
