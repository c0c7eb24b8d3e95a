//! The `[kv_cache]` slot through the whole pipeline: `kind = "dycoke"` records the visual KV
//! entries of every decode step in the run's counts (and `summary.json`); `kind = "none"`
//! records nothing; a `dycoke_l` that leaves no layer to prune is refused; a release cannot
//! hold the setting.

use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData};
use hico_backend::{Cpu, cpu_device};
use hico_core::config::{DycokeKv, KvCacheConfig, PipelineConfig, parse_toml};
use hico_core::{FramePlan, VideoInfo};
use hico_model::release::write_release;
use hico_model::{EncodedVideo, Pipeline, RunOutput};

fn tokenizer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/byte_tokenizer.json")
}

/// A tiny pipeline: 224-px tower, ToMe to 16 per frame, a 3-layer Qwen2, no dropout.
fn tiny() -> PipelineConfig {
    let text = format!(
        r#"
seed = 7
[video]
size = 224
clip_len = 4
[sampler]
kind = "uniform"
frames = 8
[vision]
width = 32
depth = 2
heads = 2
output_blocks = 2
[compressor]
kind = "tome"
tokens_per_frame = 16
[llm]
kind = "random"
hidden_size = 32
intermediate_size = 64
num_hidden_layers = 3
num_attention_heads = 4
num_key_value_heads = 2
tokenizer = "{}"
[generation]
max_new_tokens = 6
"#,
        tokenizer().display()
    );
    parse_toml(&text, Path::new("tiny.toml")).unwrap()
}

fn video(pipe: &Pipeline<Cpu>) -> EncodedVideo<Cpu> {
    let shape = [8, 3, 224, 224];
    let values: Vec<f32> = (0..shape.iter().product::<usize>() as u64)
        .map(|i| ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    let pixels = Tensor::<Cpu, 4>::from_data(TensorData::new(values, shape), &cpu_device());
    let info = VideoInfo {
        n_frames: 8,
        fps: 1.0,
        duration: 8.0,
        width: 224,
        height: 224,
    };
    let plan = FramePlan {
        indices: (0..8).collect(),
        timestamps: (0..8).map(|i| i as f64).collect(),
        duration: 8.0,
    };
    pipe.encode_frames(info, plan, None, |idx| {
        Ok(pixels.clone().narrow(0, idx[0], idx.len()))
    })
    .unwrap()
}

fn answer(cfg: PipelineConfig) -> RunOutput {
    cfg.validate(Path::new("tiny.toml")).unwrap();
    let pipe = Pipeline::<Cpu>::new(cfg, &cpu_device()).unwrap();
    let v = video(&pipe);
    pipe.answer(&v, "What moves?", Vec::new(), |_| {}).unwrap()
}

#[test]
fn dycoke_records_the_visual_entries_of_every_decode_step() {
    let none = answer(tiny());
    assert!(none.counts.visual_kv_per_step.is_empty());
    let json = serde_json::to_value(&none.counts).unwrap();
    assert!(json.get("visual_kv_per_step").is_none(), "{json}");

    let mut cfg = tiny();
    cfg.kv_cache = KvCacheConfig::Dycoke(DycokeKv {
        dycoke_l: 1,
        ..DycokeKv::default()
    });
    let out = answer(cfg);
    let n = out.counts.visual_per_layer[0];
    assert_eq!(n, 8 * 16);
    let steps = &out.counts.visual_kv_per_step;
    assert!(
        !steps.is_empty(),
        "no decode step: the answer is {:?}",
        out.answer_tokens
    );
    // The first token comes from the prefill; every later one from a decode step.
    assert_eq!(steps.len(), out.answer_tokens.len() - 1, "{steps:?}");
    // The first step prunes (no previous attention); each prunes to int(128 · 0.2) or none.
    if let Some(&first) = steps.first() {
        assert_eq!(first, 25);
    }
    assert!(steps.iter().all(|&k| k == 25 || k == n), "{steps:?}");
    assert!(out.summary().contains("visual KV entries per decode step"));
}

#[test]
fn a_release_cannot_hold_a_kv_cache_method() {
    let mut cfg = tiny();
    let dycoke = DycokeKv::default();
    cfg.kv_cache = KvCacheConfig::Dycoke(dycoke.clone());
    // dycoke_l = 3 of a 3-layer LLM prunes no layer: the pipeline refuses it.
    let Err(err) = Pipeline::<Cpu>::new(cfg.clone(), &cpu_device()) else {
        panic!("built a pipeline whose dycoke_l prunes no layer")
    };
    assert!(err.to_string().contains("kv_cache.dycoke_l"), "{err}");
    cfg.kv_cache = KvCacheConfig::Dycoke(DycokeKv {
        dycoke_l: 2,
        ..dycoke
    });
    let mut pipe = Pipeline::<Cpu>::new(cfg, &cpu_device()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = pipe.cfg.clone();
    let err = write_release(
        &mut pipe.model,
        &cfg,
        &tokenizer(),
        dir.path(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("kv_cache.kind"), "{err}");
}
