//! `[model]` configs: a release `config.json` maps to the release's recipe key by key,
//! values hico does not implement are refused naming the key and the value, config tables
//! override the weightless sections, and hub ids resolve in the local cache only.

use std::path::{Path, PathBuf};

use hico_core::config::{
    CompressorConfig, DropoutConfig, ModelSource, PipelineConfig, PixelDtype, ResizeKind,
    SamplerConfig, parse_toml_value, pipeline_from_toml,
};
use hico_model::release::{Formats, release_pipeline, resolve_model_dir_in};
use serde_json::{Value, json};

/// The `config.json` keys of a 448-px release (the 2B's values), LLM shape included.
fn release_json() -> Value {
    json!({
        "architectures": ["VideoChatFlashQwenForCausalLM"],
        "model_type": "videochat_flash_qwen",
        "hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
        "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": 151936,
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "hidden_act": "silu",
        "tie_word_embeddings": false, "use_sliding_window": false,
        "mm_vision_tower": "umt-hd-large", "mm_vision_select_layer": -2,
        "mm_hidden_size": 1024, "mm_local_num_frames": 4,
        "mm_projector_type": "tome16_mlp_hd64", "mm_newline_position": "nothing",
        "mm_patch_merge_type": "spatial_nopad", "frame_aspect_ratio": "square",
        "vision_encode_type": "video_image", "image_aspect_ratio": "anyres_nopad",
        "mm_llm_compress": false, "llm_compress_type": "attention",
        "llm_compress_layer_list": [4, 18], "llm_image_token_ratio_list": [1.0, 0.75, 0.25],
        "rope_scaling": null, "tokenizer_padding_side": "right"
    })
}

fn write_release(dir: &Path, config: &Value, generation: Option<Value>) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    if let Some(g) = generation {
        std::fs::write(dir.join("generation_config.json"), g.to_string()).unwrap();
    }
}

fn with(key: &str, value: Value) -> Value {
    let mut v = release_json();
    v[key] = value;
    v
}

fn map(config: &Value) -> Result<PipelineConfig, String> {
    let dir = tempfile::tempdir().unwrap();
    write_release(dir.path(), config, None);
    release_pipeline(dir.path()).map_err(|e| e.to_string())
}

#[test]
fn a_448_release_maps_to_its_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let gen_cfg = json!({"do_sample": true, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
                         "repetition_penalty": 1.05, "eos_token_id": [151645, 151643]});
    write_release(dir.path(), &release_json(), Some(gen_cfg));
    let c = release_pipeline(dir.path()).unwrap();
    assert_eq!(c.video.size, 448);
    assert_eq!(c.video.clip_len, 4);
    assert_eq!(c.video.resize, ResizeKind::PilBicubic);
    // chat() casts the processor's pixels with .half() before the tower.
    assert_eq!(c.video.pixels, PixelDtype::F16);
    assert_eq!(
        c.prompt.max_input_len, None,
        "no tokenizer_model_max_length: no cut"
    );
    assert_eq!(
        c.sampler,
        SamplerConfig::DynamicFps {
            min_frames: 64,
            max_frames: 512,
            frame_multiple: 8
        }
    );
    assert_eq!(
        (c.vision.width, c.vision.depth, c.vision.heads),
        (1024, 24, 16)
    );
    assert_eq!(c.vision.output_blocks, 23);
    assert_eq!(c.vision.ln_eps, 1e-6);
    assert_eq!(c.vision.pos_grid, 14);
    assert_eq!(
        c.compressor,
        CompressorConfig::Tome {
            tokens_per_frame: 16
        }
    );
    assert_eq!(c.dropout, DropoutConfig::None);
    assert_eq!(c.prompt.system, "You are a helpful assistant.");
    let g = &c.generation;
    assert_eq!((g.temperature, g.top_p, g.top_k), (0.7, 0.8, 20));
    assert_eq!(g.repetition_penalty, 1.05);
    assert_eq!(
        c.model,
        Some(ModelSource::VideochatFlash {
            path: dir.path().to_owned()
        })
    );
    c.validate(Path::new("x")).unwrap();

    // do_sample false (transformers' default): greedy whatever the temperature, the
    // repetition penalty still applies.
    write_release(
        dir.path(),
        &release_json(),
        Some(json!({"temperature": 0.7, "repetition_penalty": 1.1})),
    );
    let g = release_pipeline(dir.path()).unwrap().generation;
    assert_eq!((g.temperature, g.repetition_penalty), (0.0, 1.1));
}

#[test]
fn tower_select_layer_and_compression_keys_change_the_config() {
    let c = map(&with("mm_vision_tower", json!("umt-large"))).unwrap();
    assert_eq!(c.video.size, 224);
    let c = map(&with("mm_vision_select_layer", json!(-1))).unwrap();
    assert_eq!(c.vision.output_blocks, 24);
    let c = map(&with("mm_local_num_frames", json!(8))).unwrap();
    assert_eq!(c.video.clip_len, 8);
    // tokenizer_model_max_length: the spliced input's row limit; null, or transformers'
    // "no limit" int(1e30), is none.
    let c = map(&with("tokenizer_model_max_length", json!(32768))).unwrap();
    assert_eq!(c.prompt.max_input_len, Some(32768));
    let huge: Value = serde_json::from_str("1000000000000000019884624838656").unwrap();
    for v in [json!(null), json!(i64::MAX), huge] {
        let c = map(&with("tokenizer_model_max_length", v)).unwrap();
        assert_eq!(c.prompt.max_input_len, None);
    }
    let mut v = with("mm_llm_compress", json!(true));
    v["llm_compress_type"] = json!("uniform0_attention");
    let DropoutConfig::Uniform0Attention(s) = map(&v).unwrap().dropout else {
        panic!("expected uniform0_attention")
    };
    assert_eq!((s.layers, s.ratios), (vec![4, 18], vec![1.0, 0.75, 0.25]));
    // Absent lists take the release code's defaults.
    let mut v = with("mm_llm_compress", json!(true));
    let m = v.as_object_mut().unwrap();
    for k in [
        "llm_compress_type",
        "llm_compress_layer_list",
        "llm_image_token_ratio_list",
    ] {
        m.remove(k);
    }
    let DropoutConfig::Attention(s) = map(&v).unwrap().dropout else {
        panic!("expected attention")
    };
    assert_eq!(
        (s.layers, s.ratios),
        (vec![8, 16, 24], vec![1.0, 0.5, 0.25, 0.125])
    );
}

#[test]
fn unimplemented_values_are_refused_by_key_and_value() {
    for (key, value) in [
        ("mm_projector_type", json!("mlp2x_gelu")),
        ("mm_newline_position", json!("one_token")),
        ("frame_aspect_ratio", json!("anyres_max_4")),
        ("vision_encode_type", json!("image")),
        ("mm_vision_tower", json!("siglip-so400m")),
        ("mm_vision_select_layer", json!(3)),
        ("mm_hidden_size", json!(1152)),
        ("llm_compress_type", json!("pyramid")),
        ("mm_patch_merge_type", json!("maxpool2x2")),
        ("use_sliding_window", json!(true)),
        ("hidden_act", json!("gelu")),
        ("model_type", json!("qwen2")),
        ("tokenizer_model_max_length", json!(0)),
        ("tokenizer_model_max_length", json!("long")),
    ] {
        let mut v = with(key, value.clone());
        v["mm_llm_compress"] = json!(true);
        let err = map(&v).expect_err(key);
        assert!(err.contains(key), "{key}: {err}");
        let shown = value.as_str().map_or(value.to_string(), str::to_string);
        assert!(err.contains(&shown), "{key}: {err}");
        assert!(err.contains("config.json"), "{key}: {err}");
    }
}

fn resolve(toml: &str, base: &Path) -> Result<PipelineConfig, String> {
    let text = toml.replace("DIR", &base.display().to_string());
    let path = Path::new("grid.toml");
    pipeline_from_toml(
        parse_toml_value(&text, path).unwrap(),
        &text,
        path,
        &Formats,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn config_tables_override_the_weightless_sections() {
    let dir = tempfile::tempdir().unwrap();
    write_release(dir.path(), &release_json(), None);
    let c = resolve(
        "seed = 3\n[model]\nkind = \"videochat_flash\"\npath = \"DIR\"\n\
         [compressor]\nkind = \"pool\"\ntokens_per_frame = 4\n\
         [dropout]\nkind = \"fastv\"\n[generation]\nmax_new_tokens = 7\n",
        dir.path(),
    )
    .unwrap();
    assert_eq!(c.seed, 3);
    assert_eq!(
        c.compressor,
        CompressorConfig::Pool {
            tokens_per_frame: 4
        }
    );
    assert_eq!(c.dropout.kind(), "fastv");
    assert_eq!(c.generation.max_new_tokens, 7);
    assert_eq!(c.video.size, 448, "untouched sections stay the release's");
    // Same kind (or none): merged key by key.
    let c = resolve(
        "[model]\nkind = \"videochat_flash\"\npath = \"DIR\"\n[sampler]\nmax_frames = 128\n",
        dir.path(),
    )
    .unwrap();
    assert_eq!(
        c.sampler,
        SamplerConfig::DynamicFps {
            min_frames: 64,
            max_frames: 128,
            frame_multiple: 8
        }
    );
    // Weight sections come from the release only.
    let err = resolve(
        "[model]\nkind = \"videochat_flash\"\npath = \"DIR\"\n[vision]\nwidth = 8\n",
        dir.path(),
    )
    .unwrap_err();
    assert!(
        err.contains("grid.toml") && err.contains("`vision`"),
        "{err}"
    );
    let err = resolve(
        "[model]\nkind = \"videochat\"\npath = \"DIR\"\n",
        dir.path(),
    )
    .unwrap_err();
    assert!(
        err.contains("model") && err.contains("videochat_flash"),
        "{err}"
    );
}

#[test]
fn hub_ids_resolve_in_the_local_cache_only() {
    let cache = tempfile::tempdir().unwrap();
    let repo = cache
        .path()
        .join("models--OpenGVLab--VideoChat-Flash-Qwen2_5-2B_res448");
    let snap = repo.join("snapshots/0123abc");
    write_release(&snap, &release_json(), None);
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abc\n").unwrap();
    let id = PathBuf::from("OpenGVLab/VideoChat-Flash-Qwen2_5-2B_res448");
    let cfg = Path::new("--model");
    assert_eq!(
        resolve_model_dir_in(&id, Some(cache.path()), cfg).unwrap(),
        snap
    );
    let missing = PathBuf::from("OpenGVLab/VideoChat-Flash-Qwen2-7B_res448");
    let err = resolve_model_dir_in(&missing, Some(cache.path()), cfg).unwrap_err();
    assert!(err.to_string().contains("never downloads"), "{err}");
    let err = resolve_model_dir_in(Path::new("no/such/dir"), Some(cache.path()), cfg).unwrap_err();
    assert!(err.to_string().contains("model.path"), "{err}");
}
