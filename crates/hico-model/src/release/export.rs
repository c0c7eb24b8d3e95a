//! Writing a model as a VideoChat-Flash release directory: the three parts under the
//! release's keys (the same [`Weights`] walks that load it), `config.json` with the release's
//! fields, `generation_config.json` and the tokenizer. Settings the release format cannot
//! express are refused, naming the config key.

use hico_backend::HicoBackend;
use std::path::{Path, PathBuf};

use burn::module::Param;
use burn::prelude::*;
use hico_core::PositionMode;
use hico_core::config::{CompressorConfig, ConnectorConfig, DropoutConfig, PipelineConfig};
use hico_weights::{Layout, SaveDtype, Saver, WeightVisitor, Weights};

use super::{PROJECTOR_PREFIX, VISION_PREFIX};
use serde_json::{Map, Value, json};

use crate::{ModelError, VideoLlm};

/// How to write a release directory.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Element type of the weights (the releases are bf16).
    pub dtype: SaveDtype,
    /// Shard the weights above this many bytes (`model-0000i-of-0000n.safetensors` plus
    /// `model.safetensors.index.json`); one file when `None`.
    pub max_shard_bytes: Option<usize>,
    /// A release directory to take every non-weight file from (remote code, tokenizer
    /// files) and whose `config.json` / `generation_config.json` fields are kept where hico
    /// does not set them.
    pub template: Option<PathBuf>,
}

/// Walk the three parts of `model` under the release's prefixes.
pub fn walk_release<B: HicoBackend, V: WeightVisitor<B>>(model: &mut VideoLlm<B>, v: &mut V) {
    model.encoder.walk(VISION_PREFIX, v);
    model.connector.walk(PROJECTOR_PREFIX, v);
    model.llm.walk("", v);
}

/// The parameters the current revision of the release's remote code defines and `chat()`
/// never uses (`model.mm_projector.tvg_mlp.*`, `visual_head.weight`; see
/// [`super::ignored_key`]), written as zeros so that code loads the directory with no
/// missing key. hico's loader ignores them.
pub(super) fn write_unused_heads<B: HicoBackend>(
    saver: &mut Saver,
    mm_hidden: usize,
    hidden: usize,
    device: &Device<B>,
) {
    let tvg = format!("{PROJECTOR_PREFIX}tvg_mlp.");
    for (key, shape) in [
        (format!("{tvg}0.weight"), vec![hidden, mm_hidden]),
        (format!("{tvg}0.bias"), vec![hidden]),
        (format!("{tvg}2.weight"), vec![hidden, hidden]),
        (format!("{tvg}2.bias"), vec![hidden]),
        ("visual_head.weight".to_owned(), vec![mm_hidden, hidden]),
    ] {
        if let [n] = shape[..] {
            let mut p = Param::from_tensor(Tensor::<B, 1>::zeros([n], device));
            <Saver as WeightVisitor<B>>::param(saver, &key, &mut p, Layout::Same);
        } else {
            let mut p = Param::from_tensor(Tensor::<B, 2>::zeros([shape[0], shape[1]], device));
            <Saver as WeightVisitor<B>>::param(saver, &key, &mut p, Layout::Same);
        }
    }
}

fn invalid(key: &str, message: String) -> ModelError {
    ModelError::Invalid(format!("cannot write a release: `{key}` {message}"))
}

/// The release `config.json` for a pipeline config: `base` (a template's fields, or empty),
/// then the LLM's Hugging Face fields (`llm`), then every `mm_*` / `llm_compress_*` key the
/// release code reads, from `cfg`.
pub fn release_config_json(
    cfg: &PipelineConfig,
    llm: Map<String, Value>,
    mut base: Map<String, Value>,
    dtype: SaveDtype,
) -> Result<Value, ModelError> {
    let v = &cfg.vision;
    let tower = match cfg.video.size {
        224 => "umt-large",
        448 => "umt-hd-large",
        s => {
            return Err(invalid(
                "video.size",
                format!("= {s}: a release tower runs at 224 or 448 px"),
            ));
        }
    };
    if !matches!(
        cfg.compressor,
        CompressorConfig::Tome {
            tokens_per_frame: 16
        }
    ) {
        return Err(invalid(
            "compressor",
            format!(
                "= {:?}: the release's projector is `tome` with 16 tokens per frame",
                cfg.compressor
            ),
        ));
    }
    if cfg.connector != ConnectorConfig::Mlp2xGelu {
        return Err(invalid(
            "connector.kind",
            "must be `mlp2x_gelu` (the release's projector MLP)".into(),
        ));
    }
    if v.pos_grid != 14 || v.ln_eps != 1e-6 {
        return Err(invalid(
            "vision",
            format!(
                "pos_grid {} / ln_eps {}: the release's tower has 14 and 1e-6",
                v.pos_grid, v.ln_eps
            ),
        ));
    }
    let default = hico_core::config::VideoConfig::default();
    if cfg.video.mean != default.mean || cfg.video.std != default.std {
        return Err(invalid(
            "video.mean",
            "/ video.std: the release normalises with ImageNet's".into(),
        ));
    }
    let blocks = if v.output_blocks == 0 {
        v.depth
    } else {
        v.output_blocks
    };
    for (k, val) in llm {
        base.insert(k, val);
    }
    base.insert("architectures".into(), json!([super::RELEASE_ARCHITECTURE]));
    base.insert("model_type".into(), json!(super::RELEASE_MODEL_TYPE));
    base.insert(
        "torch_dtype".into(),
        json!(match dtype {
            SaveDtype::Bf16 => "bfloat16",
            SaveDtype::F32 => "float32",
        }),
    );
    base.remove("dtype");
    base.insert("mm_vision_tower".into(), json!(tower));
    base.insert(
        "mm_vision_select_layer".into(),
        json!(blocks as i64 - v.depth as i64 - 1),
    );
    base.insert("mm_hidden_size".into(), json!(v.width));
    base.insert("mm_local_num_frames".into(), json!(cfg.video.clip_len));
    if !base.contains_key("mm_pos_num_frames") {
        // Read (as an attribute, so required) by the projector's constructor, unused by its
        // forward; the training scripts set it to mm_local_num_frames.
        base.insert("mm_pos_num_frames".into(), json!(cfg.video.clip_len));
    }
    base.insert("mm_projector_type".into(), json!("tome16_mlp_hd64"));
    base.insert("vision_encode_type".into(), json!("video_image"));
    base.insert("mm_newline_position".into(), json!("nothing"));
    base.insert("frame_aspect_ratio".into(), json!("square"));
    let merge_ok = base
        .get("mm_patch_merge_type")
        .and_then(Value::as_str)
        .is_some_and(|m| m == "flat" || m.starts_with("spatial"));
    if !merge_ok {
        base.insert("mm_patch_merge_type".into(), json!("spatial_nopad"));
    }
    if (v.width, v.depth, v.heads, v.patch_size, v.mlp_ratio) != (1024, 24, 16, 16, 4.0) {
        // The release code hard-codes UMT-L; hico reads this object (tests, small models).
        base.insert(
            "hico_vision_tower".into(),
            json!({"hidden_size": v.width, "num_hidden_layers": v.depth,
                   "num_attention_heads": v.heads, "patch_size": v.patch_size,
                   "mlp_ratio": v.mlp_ratio}),
        );
    } else {
        base.remove("hico_vision_tower");
    }
    if !cfg.kv_cache.is_none() {
        return Err(invalid(
            "kv_cache.kind",
            format!(
                "= {}: the release prunes no KV cache while decoding (an inference setting: \
                 give `[kv_cache]` beside `[model]` instead)",
                cfg.kv_cache.kind()
            ),
        ));
    }
    let staged = match &cfg.dropout {
        DropoutConfig::None => None,
        DropoutConfig::Uniform(s) => Some(("uniform", s)),
        DropoutConfig::Attention(s) => Some(("attention", s)),
        DropoutConfig::Uniform0Attention(s) => Some(("uniform0_attention", s)),
        other => {
            return Err(invalid(
                "dropout.kind",
                format!(
                    "= {}: the release implements none, uniform, attention and uniform0_attention",
                    other.kind()
                ),
            ));
        }
    };
    // The release truncates its spliced input to this many rows; its compression needs the
    // key set (it fails on a missing one). hico without a limit writes i64::MAX: no cut.
    let max_len = cfg.prompt.max_input_len.map_or(i64::MAX, |n| n as i64);
    base.insert("tokenizer_model_max_length".into(), json!(max_len));
    base.insert("tokenizer_padding_side".into(), json!("right"));
    if !base.contains_key("auto_map") {
        // Where `from_pretrained(..., trust_remote_code=True)` finds the classes (the
        // release's Python files, which `--template` copies).
        base.insert(
            "auto_map".into(),
            json!({"AutoConfig": "modeling_videochat_flash.VideoChatFlashQwenConfig",
                   "AutoModel": "modeling_videochat_flash.VideoChatFlashQwenForCausalLM"}),
        );
    }
    base.insert("mm_llm_compress".into(), json!(staged.is_some()));
    if let Some((kind, s)) = staged {
        if s.positions != PositionMode::Renumber {
            return Err(invalid(
                "dropout.positions",
                "must be `renumber` (the release's)".into(),
            ));
        }
        base.insert("llm_compress_type".into(), json!(kind));
        base.insert("llm_compress_layer_list".into(), json!(s.layers));
        base.insert("llm_image_token_ratio_list".into(), json!(s.ratios));
    }
    Ok(Value::Object(base))
}

/// `generation_config.json`: `base` (a template's) with hico's decoding settings.
fn generation_json(cfg: &PipelineConfig, mut base: Map<String, Value>) -> Value {
    let g = &cfg.generation;
    let sample = g.temperature > 0.0;
    base.insert("do_sample".into(), json!(sample));
    if sample {
        base.insert("temperature".into(), json!(g.temperature));
        base.insert("top_p".into(), json!(g.top_p));
        base.insert("top_k".into(), json!(g.top_k));
    }
    base.insert("repetition_penalty".into(), json!(g.repetition_penalty));
    Value::Object(base)
}

fn read_object(path: &Path) -> Result<Map<String, Value>, ModelError> {
    let io = |source| ModelError::Io {
        path: path.to_owned(),
        source,
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    match serde_json::from_str(&text) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ModelError::Invalid(format!(
            "{}: not a JSON object",
            path.display()
        ))),
    }
}

fn write_json(path: &Path, v: &Value) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(v).expect("JSON values serialise");
    std::fs::write(path, text + "\n").map_err(|source| ModelError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Whether a file of a release directory is part of its weights.
fn is_weight_file(name: &str) -> bool {
    name.ends_with(".safetensors") || name == "model.safetensors.index.json"
}

/// Write everything but the weights: config files from `cfg` (over the template's),
/// the template's other files, and `tokenizer.json` from `tokenizer` when the template
/// has none.
pub(super) fn write_side_files(
    cfg: &PipelineConfig,
    llm: Map<String, Value>,
    tokenizer: &Path,
    out: &Path,
    opts: &ExportOptions,
) -> Result<(), ModelError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ModelError::Io { path, source }
    };
    std::fs::create_dir_all(out).map_err(io(out))?;
    let (mut config, mut gen_cfg) = (Map::new(), Map::new());
    if let Some(t) = &opts.template {
        for entry in std::fs::read_dir(t).map_err(io(t))? {
            let entry = entry.map_err(io(t))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let src = entry.path();
            match name.as_str() {
                "config.json" => config = read_object(&src)?,
                "generation_config.json" => gen_cfg = read_object(&src)?,
                _ if is_weight_file(&name) || !src.is_file() => {}
                _ => {
                    std::fs::copy(&src, out.join(&name)).map_err(io(&src))?;
                }
            }
        }
    }
    write_json(
        &out.join("config.json"),
        &release_config_json(cfg, llm, config, opts.dtype)?,
    )?;
    write_json(
        &out.join("generation_config.json"),
        &generation_json(cfg, gen_cfg),
    )?;
    let tok = out.join("tokenizer.json");
    if !tok.exists() {
        std::fs::copy(tokenizer, &tok).map_err(io(tokenizer))?;
    }
    Ok(())
}

/// Write `model` with its pipeline config `cfg` as a release directory `out` (see the
/// module docs); `tokenizer` is the `tokenizer.json` of its LLM.
pub fn write_release<B: HicoBackend>(
    model: &mut VideoLlm<B>,
    cfg: &PipelineConfig,
    tokenizer: &Path,
    out: &Path,
    opts: &ExportOptions,
) -> Result<(), ModelError> {
    write_side_files(cfg, model.llm.spec.to_hf(), tokenizer, out, opts)?;
    let mut saver = Saver::new(opts.dtype);
    walk_release(model, &mut saver);
    let device = model.llm.devices()[0].clone();
    write_unused_heads::<B>(
        &mut saver,
        cfg.vision.width,
        model.llm.spec.hidden_size,
        &device,
    );
    saver.write_dir(out, opts.max_shard_bytes)?;
    Ok(())
}
