//! [`StageConfig`]: one training stage as a TOML file (`configs/train/stage*.toml`): which
//! parts train and at what learning rate, the schedule, frame bounds and resolution,
//! batching, data, and the pipeline config it trains.

use std::path::{Path, PathBuf};

use hico_core::{
    ConfigError,
    config::{PipelineConfig, SamplerConfig, load_toml},
};
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// One training stage. Relative paths (`pipeline`, `data.*`) are resolved against the
/// current directory (the repository root when run through `hico train`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StageConfig {
    /// Free-form name (used in output folder names).
    #[serde(default)]
    pub name: String,
    /// The pipeline config whose model this stage trains (e.g. `configs/tiny.toml`).
    pub pipeline: PathBuf,
    /// Seed of data shuffling and of the backend RNG (reseeded every step).
    #[serde(default)]
    pub seed: u64,
    /// Passes over the data (1 in the reference).
    #[serde(default = "one")]
    pub epochs: usize,
    /// Stop after this many optimizer steps (0: run all epochs).
    #[serde(default)]
    pub max_steps: usize,
    /// Samples per micro-batch. Each sample is its own forward pass (sequence batch 1), so
    /// this multiplies with `grad_accum`: one optimizer step sees `batch_size · grad_accum`
    /// samples.
    #[serde(default = "one")]
    pub batch_size: usize,
    /// Micro-batches accumulated per optimizer step.
    #[serde(default = "one")]
    pub grad_accum: usize,
    /// Longest sequence (text + visual tokens); later turns are cut to fit, samples whose
    /// first turn does not fit are skipped and counted.
    #[serde(default = "default_max_length")]
    pub max_length: usize,
    /// Apply the pipeline's visual dropout schedule during training (queries: the token
    /// before each answer span).
    #[serde(default)]
    pub visual_dropout: bool,
    /// Parts that train, each with its peak learning rate. Absent parts are frozen (no
    /// gradients, no optimizer state).
    pub lr: PartLrs,
    /// Learning-rate schedule and optimizer settings.
    #[serde(default)]
    pub optim: OptimConfig,
    /// Frames and resolution for this stage (override the pipeline's sampler and size).
    #[serde(default)]
    pub frames: FrameBounds,
    /// Annotations and media.
    pub data: DataConfig,
    /// Checkpointing and logging.
    #[serde(default)]
    pub checkpoint: CheckpointConfig,
}

fn one() -> usize {
    1
}
fn default_max_length() -> usize {
    8192
}

/// Peak learning rate of each trainable part; a part without a rate is frozen.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartLrs {
    /// Vision encoder (2e-6 in the reference stages 2-4).
    pub encoder: Option<f64>,
    /// Connector (1e-3 in stage 1, 1e-5 after).
    pub connector: Option<f64>,
    /// Language model (1e-5 in stages 2-3, frozen in 4).
    pub llm: Option<f64>,
}

impl PartLrs {
    /// `(part name, peak lr)` of every trainable part, in a fixed order.
    pub fn trainable(&self) -> Vec<(&'static str, f64)> {
        [
            ("encoder", self.encoder),
            ("connector", self.connector),
            ("llm", self.llm),
        ]
        .into_iter()
        .filter_map(|(n, lr)| lr.map(|lr| (n, lr)))
        .collect()
    }
}

/// Optimizer (AdamW) and cosine schedule with linear warm-up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OptimConfig {
    /// Fraction of the total steps spent warming up linearly (0.03 in the reference).
    pub warmup_fraction: f64,
    /// Learning rate at the end of the cosine, as a fraction of the peak.
    pub min_lr_fraction: f64,
    /// AdamW decoupled weight decay (0 in the reference).
    pub weight_decay: f64,
    /// Clip each parameter's gradient to this L2 norm (burn clips per parameter, not
    /// globally as the reference's `max_grad_norm = 1`); absent: no clipping.
    pub clip_norm: Option<f64>,
}

impl Default for OptimConfig {
    fn default() -> Self {
        Self {
            warmup_fraction: 0.03,
            min_lr_fraction: 0.0,
            weight_decay: 0.0,
            clip_norm: None,
        }
    }
}

/// Frame bounds of the duration sampler and input resolution of this stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameBounds {
    /// Fewest frames (T_min of the duration rule).
    pub t_min: usize,
    /// Most frames (T_max of the duration rule).
    pub t_max: usize,
    /// Square input resolution in pixels (absent: the pipeline's `video.size`).
    #[serde(default)]
    pub resolution: Option<usize>,
}

impl Default for FrameBounds {
    fn default() -> Self {
        Self {
            t_min: 64,
            t_max: 512,
            resolution: None,
        }
    }
}

/// Where the training data is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// LLaVA-style JSON (an array) or JSONL annotation file.
    pub annotations: PathBuf,
    /// Folder the `video` / `image` paths are relative to.
    #[serde(default)]
    pub video_root: PathBuf,
    /// Decoding threads.
    #[serde(default = "default_workers")]
    pub workers: usize,
    /// Decoded samples each worker may hold ahead of the training step.
    #[serde(default = "default_prefetch")]
    pub prefetch: usize,
    /// Most samples the stage may skip (unreadable, or a first turn over `max_length`;
    /// each logged to `<out>/skipped.jsonl`) before it stops with an error; absent: no
    /// limit (samples too long for `max_length` are a filter by design).
    #[serde(default)]
    pub max_skipped: Option<usize>,
}

fn default_workers() -> usize {
    2
}
fn default_prefetch() -> usize {
    2
}

/// Checkpoints and logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointConfig {
    /// Write a checkpoint every this many optimizer steps (and always at the end).
    pub every: usize,
    /// Checkpoints kept on disk (older ones are deleted; at least 1).
    pub keep: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl Default for CheckpointConfig {
    fn default() -> Self {
        Self {
            every: 500,
            keep: 2,
            progress: true,
        }
    }
}

impl StageConfig {
    /// Load and validate a stage config; errors name the file and the key.
    pub fn load(path: &Path) -> Result<Self, TrainError> {
        let cfg: Self = load_toml(path)?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Check values that parse but make no sense.
    pub fn validate(&self, path: &Path) -> Result<(), TrainError> {
        let bad = |key: &str, message: String| {
            TrainError::Config(ConfigError::Invalid {
                path: path.to_owned(),
                key: key.into(),
                message,
            })
        };
        for (key, v) in [
            ("epochs", self.epochs),
            ("batch_size", self.batch_size),
            ("grad_accum", self.grad_accum),
            ("max_length", self.max_length),
            ("data.workers", self.data.workers),
            ("data.prefetch", self.data.prefetch),
            ("checkpoint.every", self.checkpoint.every),
            ("checkpoint.keep", self.checkpoint.keep),
        ] {
            if v == 0 {
                return Err(bad(key, "must be at least 1".into()));
            }
        }
        let parts = self.lr.trainable();
        if parts.is_empty() {
            return Err(bad(
                "lr",
                "no part trains: give `encoder`, `connector` or `llm` a learning rate".into(),
            ));
        }
        for (name, lr) in parts {
            if !(lr.is_finite() && lr > 0.0) {
                return Err(bad(&format!("lr.{name}"), format!("{lr} must be > 0")));
            }
        }
        let o = &self.optim;
        if !(0.0..1.0).contains(&o.warmup_fraction) {
            return Err(bad(
                "optim.warmup_fraction",
                format!("{} must be in [0, 1)", o.warmup_fraction),
            ));
        }
        if !(0.0..=1.0).contains(&o.min_lr_fraction) {
            return Err(bad(
                "optim.min_lr_fraction",
                format!("{} must be in [0, 1]", o.min_lr_fraction),
            ));
        }
        if self.frames.t_min == 0 || self.frames.t_min > self.frames.t_max {
            return Err(bad(
                "frames.t_min",
                format!(
                    "{} must be in 1..=t_max ({})",
                    self.frames.t_min, self.frames.t_max
                ),
            ));
        }
        Ok(())
    }

    /// Optimizer steps per epoch over `n_samples` samples.
    pub fn steps_per_epoch(&self, n_samples: usize) -> usize {
        n_samples.div_ceil(self.samples_per_step())
    }

    /// Samples one optimizer step consumes (`batch_size · grad_accum`).
    pub fn samples_per_step(&self) -> usize {
        self.batch_size * self.grad_accum
    }

    /// Total optimizer steps of the stage over `n_samples` samples.
    pub fn total_steps(&self, n_samples: usize) -> usize {
        let all = self.epochs * self.steps_per_epoch(n_samples);
        if self.max_steps > 0 {
            all.min(self.max_steps)
        } else {
            all
        }
    }

    /// The pipeline config as this stage runs it: the duration sampler with this stage's
    /// frame bounds and, when set, this stage's resolution. Validated again.
    pub fn stage_pipeline(&self, base: &PipelineConfig) -> Result<PipelineConfig, TrainError> {
        let mut cfg = base.clone();
        cfg.sampler = SamplerConfig::Duration {
            t_min: self.frames.t_min,
            t_max: self.frames.t_max,
        };
        if let Some(size) = self.frames.resolution {
            cfg.video.size = size;
        }
        hico_model::validate_config(&cfg, &self.pipeline)?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hico_core::config::parse_toml;

    const MINIMAL: &str = r#"
pipeline = "configs/tiny.toml"
[lr]
connector = 1e-3
[data]
annotations = "a.json"
"#;

    #[test]
    fn minimal_parses_with_reference_defaults() {
        let c: StageConfig = parse_toml(MINIMAL, Path::new("s.toml")).unwrap();
        c.validate(Path::new("s.toml")).unwrap();
        assert_eq!(c.optim.warmup_fraction, 0.03);
        assert_eq!(c.lr.trainable(), vec![("connector", 1e-3)]);
        assert_eq!(c.epochs, 1);
    }

    #[test]
    fn unknown_key_is_named() {
        let text = MINIMAL.replace("connector = 1e-3", "connector = 1e-3\nvision = 1.0");
        let e = parse_toml::<StageConfig>(&text, Path::new("s.toml")).unwrap_err();
        assert!(e.to_string().contains("lr.vision"), "{e}");
    }

    #[test]
    fn no_trainable_part_is_rejected() {
        let text = MINIMAL.replace("connector = 1e-3", "");
        let c: StageConfig = parse_toml(&text, Path::new("s.toml")).unwrap();
        let e = c.validate(Path::new("s.toml")).unwrap_err().to_string();
        assert!(e.contains("`lr`") && e.contains("no part trains"), "{e}");
    }

    #[test]
    fn steps_count_batches_and_accumulation() {
        let mut c: StageConfig = parse_toml(MINIMAL, Path::new("s.toml")).unwrap();
        c.batch_size = 2;
        c.grad_accum = 3;
        c.epochs = 2;
        assert_eq!(c.steps_per_epoch(13), 3);
        assert_eq!(c.total_steps(13), 6);
        c.max_steps = 4;
        assert_eq!(c.total_steps(13), 4);
    }
}
