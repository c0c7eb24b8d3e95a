//! Values that parse but make no sense: each error names the key and what was expected.

use std::path::Path;

use super::*;
use crate::ConfigError;

impl PipelineConfig {
    /// Load and validate a pipeline config file (a `[model]` table expands into the
    /// release's sections by `releases`, see [`release`]; `hico_model::load_config` passes
    /// the release loader's).
    pub fn load(path: &Path, releases: &dyn Releases) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let cfg = pipeline_from_toml(parse_toml_value(&text, path)?, &text, path, releases)?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Check values that parse but make no sense, naming the key; then the config against
    /// its model ([`PipelineConfig::check_model`]).
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key: key.into(),
            message,
        };
        let v = &self.video;
        if v.clip_len == 0 {
            return Err(bad("video.clip_len", "must be at least 1".into()));
        }
        let patch = self.vision.patch_size;
        if patch == 0 || !v.size.is_multiple_of(patch) {
            return Err(bad(
                "video.size",
                format!(
                    "{} is not a multiple of vision.patch_size = {patch}",
                    v.size
                ),
            ));
        }
        if self.vision.heads == 0 || !self.vision.width.is_multiple_of(self.vision.heads) {
            return Err(bad(
                "vision.heads",
                format!(
                    "{} heads do not divide width {}",
                    self.vision.heads, self.vision.width
                ),
            ));
        }
        if self.vision.output_blocks > self.vision.depth {
            return Err(bad(
                "vision.output_blocks",
                format!(
                    "{} exceeds depth {}",
                    self.vision.output_blocks, self.vision.depth
                ),
            ));
        }
        match &self.sampler {
            SamplerConfig::Duration { t_min, t_max } => {
                if t_min > t_max {
                    return Err(bad("sampler.t_min", format!("{t_min} > t_max = {t_max}")));
                }
            }
            SamplerConfig::Uniform { frames } => {
                if *frames == 0 || frames % v.clip_len != 0 {
                    return Err(bad(
                        "sampler.frames",
                        format!(
                            "{frames} is not a positive multiple of video.clip_len = {}",
                            v.clip_len
                        ),
                    ));
                }
            }
            SamplerConfig::Fps {
                fps,
                min_frames,
                max_frames,
            } => {
                if fps.is_nan() || *fps <= 0.0 {
                    return Err(bad("sampler.fps", format!("{fps} must be > 0")));
                }
                if min_frames > max_frames {
                    return Err(bad(
                        "sampler.min_frames",
                        format!("{min_frames} > max_frames = {max_frames}"),
                    ));
                }
            }
            SamplerConfig::DynamicFps {
                min_frames,
                max_frames,
                frame_multiple,
            } => {
                // Every count the rule can give (a multiple, min_frames, max_frames) must
                // split into whole clips.
                for (key, value, zero_ok) in [
                    ("sampler.frame_multiple", *frame_multiple, false),
                    ("sampler.min_frames", *min_frames, true),
                    ("sampler.max_frames", *max_frames, true),
                ] {
                    if !value.is_multiple_of(v.clip_len) || (value == 0 && !zero_ok) {
                        return Err(bad(
                            key,
                            format!(
                                "{value} is not a positive multiple of video.clip_len = {}",
                                v.clip_len
                            ),
                        ));
                    }
                }
                if *max_frames > 0 && min_frames > max_frames {
                    return Err(bad(
                        "sampler.min_frames",
                        format!("{min_frames} > max_frames = {max_frames}"),
                    ));
                }
            }
        }
        let grid = v.size / patch;
        match &self.compressor {
            CompressorConfig::Identity => {}
            CompressorConfig::Tome {
                tokens_per_frame: t,
            }
            | CompressorConfig::TomeOrdered {
                tokens_per_frame: t,
            }
            | CompressorConfig::Temporal {
                tokens_per_frame: t,
                ..
            } => {
                if *t == 0 || *t > grid.saturating_mul(grid) {
                    return Err(bad(
                        "compressor.tokens_per_frame",
                        format!(
                            "{t} must be in 1..={} (patches per frame at {} px)",
                            grid.saturating_mul(grid),
                            v.size
                        ),
                    ));
                }
            }
            CompressorConfig::Pool {
                tokens_per_frame: t,
            } => {
                let side = (*t as f64).sqrt().round() as usize;
                if side * side != *t || side == 0 || side > grid {
                    return Err(bad(
                        "compressor.tokens_per_frame",
                        format!("{t} must be a square number with side <= {grid} for `pool`"),
                    ));
                }
            }
        }
        let needs = self.video_compressor.needs();
        if needs.grid && !self.compressor.keeps_frame_grid() {
            return Err(bad(
                "video_compressor.kind",
                format!(
                    "`{}` needs each frame's tokens as a grid; the clip compressor `{}` does not \
                     keep one (use `identity` or `pool`)",
                    self.video_compressor.kind(),
                    self.compressor.kind()
                ),
            ));
        }
        if let DropoutConfig::Fastv(f) = &self.dropout
            && !(0.0..1.0).contains(&f.ratio)
        {
            return Err(bad(
                "dropout.ratio",
                format!("{} must be in [0, 1)", f.ratio),
            ));
        }
        if let DropoutConfig::FrameFusion(f) = &self.dropout {
            if !self.compressor.keeps_frame_grid() || !self.video_compressor.is_none() {
                return Err(bad(
                    "dropout.kind",
                    format!(
                        "`framefusion` compares each visual token with the same position of the \
                         previous frame: it needs `[compressor] kind = \"identity\"` or \
                         `\"pool\"` (not `{}`) and no `[video_compressor]` (not `{}`)",
                        self.compressor.kind(),
                        self.video_compressor.kind()
                    ),
                ));
            }
            if !(f.cost > 0.0 && f.cost <= 1.0) {
                return Err(bad("dropout.cost", format!("{} must be in (0, 1]", f.cost)));
            }
            if !(-1.0..=1.0).contains(&f.similarity_lower_bound) {
                return Err(bad(
                    "dropout.similarity_lower_bound",
                    format!("{} must be in [-1, 1]", f.similarity_lower_bound),
                ));
            }
            if !(0.0..=1.0).contains(&f.ratio_lower_bound) {
                return Err(bad(
                    "dropout.ratio_lower_bound",
                    format!("{} must be in [0, 1]", f.ratio_lower_bound),
                ));
            }
        }
        if let KvCacheConfig::Dycoke(d) = &self.kv_cache {
            if d.dycoke_l == 0 {
                return Err(bad(
                    "kv_cache.dycoke_l",
                    "must be at least 1: the layer whose attention scores the visual entries \
                     (1-based), pruning the layers after it"
                        .into(),
                ));
            }
            if !(0.0..=1.0).contains(&d.dycoke_p) {
                return Err(bad(
                    "kv_cache.dycoke_p",
                    format!("{} must be in [0, 1]", d.dycoke_p),
                ));
            }
            if !(-1.0..=1.0).contains(&d.similarity_threshold) {
                return Err(bad(
                    "kv_cache.similarity_threshold",
                    format!("{} must be in [-1, 1]", d.similarity_threshold),
                ));
            }
            if self.dropout != DropoutConfig::None {
                return Err(bad(
                    "kv_cache.kind",
                    format!(
                        "`dycoke` prunes the visual entries of a cache that holds the whole \
                         visual block at every layer; `[dropout] kind = \"{}\"` drops some \
                         in the prefill (use `kind = \"none\"` there)",
                        self.dropout.kind()
                    ),
                ));
            }
        }
        // `remove_all` is one stage by construction, and may drop before layer 1.
        if let Some(Stages { layers, ratios, .. }) = staged(&self.dropout)
            && !matches!(self.dropout, DropoutConfig::RemoveAll(_))
        {
            if ratios.len() != layers.len() + 1 {
                return Err(bad(
                    "dropout.ratios",
                    format!(
                        "expected {} ratios (one more than `layers`, starting with 1.0), got {}",
                        layers.len() + 1,
                        ratios.len()
                    ),
                ));
            }
            if !layers.windows(2).all(|w| w[0] < w[1]) || layers.first() == Some(&0) {
                return Err(bad(
                    "dropout.layers",
                    format!("{layers:?} must be increasing, from 1"),
                ));
            }
            if !ratios.windows(2).all(|w| w[0] >= w[1])
                || ratios.iter().any(|r| !(0.0..=1.0).contains(r))
            {
                return Err(bad(
                    "dropout.ratios",
                    format!("{ratios:?} must be non-increasing within [0, 1]"),
                ));
            }
        }
        let g = &self.generation;
        if !(0.0..=1.0).contains(&g.top_p) || g.top_p == 0.0 {
            return Err(bad(
                "generation.top_p",
                format!("{} must be in (0, 1]", g.top_p),
            ));
        }
        if g.repetition_penalty.is_nan() || g.repetition_penalty <= 0.0 {
            return Err(bad(
                "generation.repetition_penalty",
                format!("{} must be > 0", g.repetition_penalty),
            ));
        }
        let (_, block) = self.llm.attention();
        if !(16..=8192).contains(&block) {
            return Err(bad(
                "llm.attention_block",
                format!("{block} must be in 16..=8192"),
            ));
        }
        if let LlmConfig::Random {
            hidden_size,
            num_attention_heads: h,
            num_key_value_heads: kv,
            head_dim,
            ..
        } = &self.llm
        {
            if *h == 0 || *kv == 0 || h % kv != 0 {
                return Err(bad(
                    "llm.num_key_value_heads",
                    format!("{kv} must be at least 1 and divide num_attention_heads = {h}"),
                ));
            }
            if head_dim.is_none() && hidden_size % h != 0 {
                return Err(bad(
                    "llm.num_attention_heads",
                    format!("{h} does not divide hidden_size = {hidden_size} (or set head_dim)"),
                ));
            }
            if head_dim.is_some_and(|d| d == 0 || d % 2 != 0) {
                return Err(bad(
                    "llm.head_dim",
                    "must be a positive even number (rotary pairs)".into(),
                ));
            }
        }
        if g.temperature < 0.0 {
            return Err(bad(
                "generation.temperature",
                format!("{} must be >= 0", g.temperature),
            ));
        }
        self.check_model(path)
    }

    /// Write the resolved config as pretty JSON (beside a run's outputs).
    pub fn write_json(&self, path: &Path) -> Result<(), crate::CoreError> {
        let json = serde_json::to_string_pretty(self).map_err(|source| crate::CoreError::Json {
            path: path.to_owned(),
            source,
        })?;
        std::fs::write(path, json).map_err(|source| crate::CoreError::Io {
            path: path.to_owned(),
            source,
        })
    }
}
