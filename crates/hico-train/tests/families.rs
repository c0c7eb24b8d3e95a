//! Every LLM family as the LLM of a whole video pipeline: inference under every dropout
//! schedule, and a short training run (visual dropout on) whose exported Hugging Face
//! folder reloads as the same family. Nothing here names a family's model type: the LLM is
//! chosen by the `[llm] family` key alone.

mod common;

use burn::tensor::{Distribution, Tensor};
use hico_backend::{Cpu, CpuAutodiff, cpu_device};
use hico_core::config::{DropoutConfig, LlmConfig, PipelineConfig};
use hico_core::{FramePlan, VideoInfo};
use hico_llm::{CausalLm, supported_model_types};
use hico_model::Pipeline;
use hico_train::run_stage;
use serde_json::json;

/// The tiny training pipeline with a 4-layer LLM of `family` (Qwen3 with a head width other
/// than hidden / heads, LLaMA with Llama 3.x rotary scaling) and 16 visual tokens per clip.
fn config(family: &str) -> PipelineConfig {
    let mut p = common::pipeline();
    let mut llm = json!({
        "kind": "random", "family": family, "hidden_size": 32, "intermediate_size": 64,
        "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
        "tokenizer": "byte_level",
    });
    match family {
        "qwen3" => llm["head_dim"] = json!(16),
        "llama" => {
            llm["rope_theta"] = json!(500_000.0);
            llm["rope_scaling"] = json!({"rope_type": "llama3", "factor": 8.0,
                "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64});
        }
        _ => {}
    }
    p.llm = serde_json::from_value::<LlmConfig>(llm).unwrap();
    p.compressor = serde_json::from_value(json!({"kind": "pool", "tokens_per_frame": 4})).unwrap();
    p.validate(std::path::Path::new("families.rs")).unwrap();
    p
}

/// Every dropout schedule, with layers that fit a 4-layer LLM.
fn schedules() -> Vec<DropoutConfig> {
    let staged =
        |kind: &str| json!({"kind": kind, "layers": [1, 2, 3], "ratios": [1.0, 0.5, 0.25, 0.125]});
    [
        json!({"kind": "none"}),
        staged("uniform"),
        staged("attention"),
        staged("uniform0_attention"),
        json!({"kind": "fastv", "layer": 2, "ratio": 0.5}),
        staged("pyramid"),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).unwrap())
    .collect()
}

#[test]
fn every_family_runs_the_video_pipeline_under_every_schedule() {
    let _guard = common::lock();
    let dev = cpu_device();
    for family in supported_model_types() {
        for dropout in schedules() {
            let mut cfg = config(family);
            let kind = dropout.kind();
            cfg.dropout = dropout;
            let pipe = Pipeline::<Cpu>::new(cfg, &dev).unwrap();
            assert_eq!(pipe.model.llm.spec.family, family);
            let n = 8; // two clips of four frames: 32 visual tokens
            let info = VideoInfo {
                n_frames: n,
                fps: 1.0,
                duration: n as f64,
                width: 32,
                height: 32,
            };
            let plan = FramePlan {
                indices: (0..n).collect(),
                timestamps: (0..n).map(|i| i as f64).collect(),
                duration: n as f64,
            };
            let video = pipe
                .encode_frames(info, plan, None, |idx| {
                    Ok(Tensor::random(
                        [idx.len(), 3, 32, 32],
                        Distribution::Default,
                        &dev,
                    ))
                })
                .unwrap();
            let out = pipe
                .answer(&video, "What colour is the video?", vec![2], |_| {})
                .unwrap();
            let counts = out.counts.visual_per_layer.clone();
            let want: &[usize] = match kind {
                "none" => &[32, 32, 32, 32],
                "fastv" => &[32, 32, 16, 16],
                _ => &[32, 16, 8, 4],
            };
            assert_eq!(counts, want, "{family} {kind}");
            assert!(!out.answer_tokens.is_empty(), "{family} {kind}");
            assert!(
                out.attention.is_some(),
                "{family} {kind}: capture of layer 2"
            );
        }
    }
}

#[test]
fn every_family_trains_with_visual_dropout_and_exports_itself() {
    let _guard = common::lock();
    let dev = cpu_device();
    for family in supported_model_types() {
        let mut p = config(family);
        p.dropout = schedules().swap_remove(3); // uniform0_attention
        let dir = tempfile::tempdir().unwrap();
        let mut s = common::stage();
        s.visual_dropout = true;
        s.max_steps = 6;
        let out =
            run_stage::<CpuAutodiff>(&p, &s, None, &dir.path().join("out"), false, &dev).unwrap();
        assert_eq!(out.steps, 6, "{family}");
        assert!(
            out.final_loss.is_finite(),
            "{family}: loss {}",
            out.final_loss
        );
        let hf: CausalLm<Cpu> = CausalLm::load_hf(&out.checkpoint.join("llm_hf"), &dev).unwrap();
        assert_eq!(hf.spec.family, family);
        assert_eq!(hf.spec.head_dim, if family == "qwen3" { 16 } else { 8 });
    }
}
