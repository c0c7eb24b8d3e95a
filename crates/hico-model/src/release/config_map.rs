//! The key-by-key mapping of a VideoChat-Flash release's `config.json` and
//! `generation_config.json` to a [`PipelineConfig`], with the refusals (see
//! [`super::config`] and docs/release-format.md).

use std::path::Path;

use serde_json::Value;

use super::config::RELEASE_MODEL_TYPE;
use hico_core::ConfigError;
use hico_core::config::*;

/// UMT-L, the tower every release uses (the release code hard-codes it): width, depth,
/// heads, patch, MLP ratio.
const UMT_L: (usize, usize, usize, usize, f64) = (1024, 24, 16, 16, 4.0);

/// Reads keys of one JSON file; every error names the file and the key.
struct Keys<'a> {
    json: &'a Value,
    path: &'a Path,
}

impl Keys<'_> {
    fn bad(&self, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            key: key.into(),
            message,
        }
    }

    fn get(&self, key: &str) -> Option<&Value> {
        self.json.get(key).filter(|v| !v.is_null())
    }

    fn str_or(&self, key: &str, default: &str) -> Result<String, ConfigError> {
        match self.get(key) {
            None => Ok(default.into()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(self.bad(key, format!("{v} is not a string"))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.as_i64()
                    .ok_or_else(|| self.bad(key, format!("{v} is not an integer")))
            })
            .transpose()
    }

    fn float(&self, key: &str) -> Result<Option<f64>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| self.bad(key, format!("{v} is not a number")))
            })
            .transpose()
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.get(key) {
            None => Ok(default),
            Some(v) => v
                .as_bool()
                .ok_or_else(|| self.bad(key, format!("{v} is not true or false"))),
        }
    }

    fn list<T>(
        &self,
        key: &str,
        f: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<Vec<T>>, ConfigError> {
        self.get(key)
            .map(|v| {
                v.as_array()
                    .and_then(|a| a.iter().map(&f).collect())
                    .ok_or_else(|| self.bad(key, format!("{v} is not a list of numbers")))
            })
            .transpose()
    }

    /// A required non-negative integer.
    fn size(&self, key: &str) -> Result<usize, ConfigError> {
        match self.int(key)? {
            Some(i) if i > 0 => Ok(i as usize),
            Some(i) => Err(self.bad(key, format!("{i} must be positive"))),
            None => Err(self.bad(key, "missing".into())),
        }
    }

    /// Refuse any value of `key` other than those hico implements (`default` when absent).
    fn only(
        &self,
        key: &str,
        default: &str,
        ok: &[&str],
        what: &str,
    ) -> Result<String, ConfigError> {
        let v = self.str_or(key, default)?;
        if ok.contains(&v.as_str()) {
            Ok(v)
        } else {
            Err(self.bad(key, format!("`{v}`: hico implements only {ok:?} ({what})")))
        }
    }
}

/// The pipeline config of a release `config.json` (generation left at its defaults).
pub(crate) fn map_config(
    json: &Value,
    dir: &Path,
    path: &Path,
) -> Result<PipelineConfig, ConfigError> {
    let k = Keys { json, path };
    let model_type = k.str_or("model_type", "")?;
    if model_type != RELEASE_MODEL_TYPE {
        return Err(k.bad(
            "model_type",
            format!(
                "`{model_type}`: not a VideoChat-Flash release (expected `{RELEASE_MODEL_TYPE}`)"
            ),
        ));
    }
    // Vision tower: "umt-hd*" runs at 448 px, any other "umt*" at 224 (the release builder).
    let tower = k.str_or("mm_vision_tower", "")?;
    let size = if tower.contains("umt-hd") {
        448
    } else if tower.contains("umt") {
        224
    } else {
        return Err(k.bad(
            "mm_vision_tower",
            format!("`{tower}`: hico implements the UMT towers (`umt-large`, `umt-hd-large`)"),
        ));
    };
    let (width, depth, heads, patch, mlp_ratio) = match json.get("hico_vision_tower") {
        None => UMT_L,
        // Test fixtures only: releases hard-code UMT-L.
        Some(v) => {
            let t = Keys { json: v, path };
            (
                t.size("hidden_size")?,
                t.size("num_hidden_layers")?,
                t.size("num_attention_heads")?,
                t.size("patch_size")?,
                t.float("mlp_ratio")?.unwrap_or(4.0),
            )
        }
    };
    let select = k.int("mm_vision_select_layer")?.unwrap_or(-2);
    if select >= 0 || select < -(depth as i64) {
        return Err(k.bad(
            "mm_vision_select_layer",
            format!(
                "{select}: hico implements -1..=-{depth} (output after depth + value + 1 blocks)"
            ),
        ));
    }
    let mm_hidden = k.int("mm_hidden_size")?.unwrap_or(width as i64);
    if mm_hidden != width as i64 {
        return Err(k.bad(
            "mm_hidden_size",
            format!("{mm_hidden} differs from the UMT tower's width {width}"),
        ));
    }
    let clip_len = k.size("mm_local_num_frames")?;
    k.only(
        "mm_projector_type",
        "",
        &["tome16_mlp_hd64"],
        "ToMe to 16 tokens per frame, then Linear-GELU-Linear",
    )?;
    k.only(
        "vision_encode_type",
        "image",
        &["video_image"],
        "clips of mm_local_num_frames through the tower, ToMe per clip",
    )?;
    k.only(
        "mm_newline_position",
        "nothing",
        &["nothing"],
        "no newline token between frames",
    )?;
    k.only(
        "frame_aspect_ratio",
        "square",
        &["square"],
        "one square tile per frame, no anyres",
    )?;
    let merge = k.str_or("mm_patch_merge_type", "flat")?;
    if !(merge == "flat" || merge.starts_with("spatial")) {
        return Err(k.bad(
            "mm_patch_merge_type",
            format!("`{merge}`: hico implements `flat` and `spatial*` (video features flattened)"),
        ));
    }
    k.only(
        "tokenizer_padding_side",
        "right",
        &["right"],
        "the release's compression needs right padding",
    )?;
    if k.str_or("transformers_version", "")?.contains("llava_ov") {
        return Err(k.bad(
            "transformers_version",
            "a `llava_ov` model pools video features 2x2; hico does not".into(),
        ));
    }
    // Text model keys the release code reads beyond the Qwen2 shape (the shape itself is
    // read by the LLM loader from the same config.json).
    k.only("hidden_act", "silu", &["silu"], "SwiGLU with SiLU")?;
    if k.bool_or("use_sliding_window", false)? {
        return Err(k.bad(
            "use_sliding_window",
            "true: hico implements full causal attention".into(),
        ));
    }
    Ok(PipelineConfig {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        seed: 0,
        video: VideoConfig {
            size,
            clip_len,
            resize: ResizeKind::PilBicubic,
            // chat(): `preprocess(...)["pixel_values"].half()` before the tower.
            pixels: PixelDtype::F16,
            ..VideoConfig::default()
        },
        // chat(): get_frame_indices(sample='dynamic_fps1', min 64, max 512, local_num_frames 8).
        sampler: SamplerConfig::DynamicFps {
            min_frames: 64,
            max_frames: 512,
            frame_multiple: 8,
        },
        vision: VisionConfig {
            width,
            depth,
            heads,
            mlp_ratio,
            patch_size: patch,
            output_blocks: (depth as i64 + select + 1) as usize,
            ln_eps: 1e-6,
            // The release builds the table on a 14 × 14 grid and interpolates (448 px).
            pos_grid: 14,
            checkpoint: None,
        },
        compressor: CompressorConfig::Tome {
            tokens_per_frame: 16,
        },
        connector: ConnectorConfig::Mlp2xGelu,
        video_compressor: Default::default(),
        llm: LlmConfig::Hf {
            path: dir.to_owned(),
            attention: hico_core::config::attention_impl(),
            attention_block: hico_core::config::attention_block(),
        },
        dropout: dropout(&k)?,
        kv_cache: KvCacheConfig::None,
        prompt: PromptConfig {
            system: "You are a helpful assistant.".into(),
            timestamps: TimestampStyle::Duration,
            max_input_len: max_input_len(&k)?,
        },
        generation: GenerationConfig::default(),
        model: None,
    })
}

/// `tokenizer_model_max_length`: the release keeps the first that many rows of the spliced
/// input (`new_input_embeds[:n]`); absent or null means no limit, and so do i64::MAX (what
/// hico's exporter writes then) and larger values (transformers writes `int(1e30)` for a
/// tokenizer without a limit).
fn max_input_len(k: &Keys) -> Result<Option<usize>, ConfigError> {
    const KEY: &str = "tokenizer_model_max_length";
    match k.get(KEY) {
        None => Ok(None),
        Some(v) => match (v.as_u64(), v.as_f64()) {
            (Some(0), _) => Err(k.bad(KEY, "0 would leave no input".into())),
            // i64::MAX is what hico's exporter writes for "no limit"
            (Some(n), _) if n >= i64::MAX as u64 => Ok(None),
            (Some(n), _) => Ok(usize::try_from(n).ok()),
            (None, Some(f)) if f >= u64::MAX as f64 => Ok(None),
            _ => Err(k.bad(KEY, format!("{v} is not a positive integer"))),
        },
    }
}

/// `mm_llm_compress`, `llm_compress_type`, `llm_compress_layer_list`,
/// `llm_image_token_ratio_list` (defaults as the release code's `getattr`s).
fn dropout(k: &Keys) -> Result<DropoutConfig, ConfigError> {
    if !k.bool_or("mm_llm_compress", false)? {
        return Ok(DropoutConfig::None);
    }
    let kind = k.only(
        "llm_compress_type",
        "attention",
        &["attention", "uniform", "uniform0_attention"],
        "the release's three rules",
    )?;
    let layers = k
        .list("llm_compress_layer_list", |v| {
            v.as_u64().map(|x| x as usize)
        })?
        .unwrap_or_else(|| vec![8, 16, 24]);
    let ratios = k
        .list("llm_image_token_ratio_list", Value::as_f64)?
        .unwrap_or_else(|| vec![1.0, 0.5, 0.25, 0.125]);
    let staged = StagedDrop {
        layers,
        ratios,
        positions: hico_core::PositionMode::Renumber,
    };
    Ok(match kind.as_str() {
        "uniform" => DropoutConfig::Uniform(staged),
        "uniform0_attention" => DropoutConfig::Uniform0Attention(staged),
        _ => DropoutConfig::Attention(staged),
    })
}

/// `generation_config.json` as transformers applies it when the caller passes nothing:
/// `do_sample` false (its default) decodes greedily whatever the temperature; sampling uses
/// `temperature`, `top_p` and `top_k` (50 when absent, transformers' default);
/// `repetition_penalty` applies either way; `max_new_tokens` when given.
pub(crate) fn generation(json: &Value, path: &Path) -> Result<GenerationConfig, ConfigError> {
    let k = Keys { json, path };
    let mut g = GenerationConfig::default();
    if k.bool_or("do_sample", false)? {
        g.temperature = k.float("temperature")?.unwrap_or(1.0);
        g.top_p = k.float("top_p")?.unwrap_or(1.0);
        g.top_k = k.int("top_k")?.unwrap_or(50).max(0) as usize;
    }
    g.repetition_penalty = k.float("repetition_penalty")?.unwrap_or(1.0);
    if let Some(n) = k.int("max_new_tokens")? {
        g.max_new_tokens = n.max(0) as usize;
    }
    if k.int("num_beams")?.is_some_and(|n| n != 1) {
        return Err(k.bad("num_beams", "hico decodes one beam".into()));
    }
    Ok(g)
}
