//! FrameFusion inside the LLM against `scripts/framefusion_ref.py` (fixture
//! `framefusion.json`, the official rule re-read into a torch Qwen2 over the `gqa` model):
//! which original visual tokens survive each step, the sequence length at every layer, the
//! last logits, and one cached decode step after the merged/pruned prefill. The cases cover
//! the top-k branch, pruning right after the first merge, several merge steps then pruning,
//! renumbered positions, and a budget spent before pruning.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::{floats, json, max_diff, model};
use hico_backend::Cpu;
use hico_core::config::{DropoutConfig, FrameFusionDrop};
use hico_core::{FrameLayout, LanguageModel, PositionMode, PrefillInput};
use hico_llm::build_schedule;

fn vec2(t: Tensor<Cpu, 2>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

fn input(case: &serde_json::Value, frames: Option<FrameLayout>) -> PrefillInput<Cpu> {
    let m = model("gqa");
    let len = case["len"].as_u64().unwrap() as usize;
    let embeds = Tensor::<Cpu, 3>::from_data(
        TensorData::new(floats(&case["embeds"]), [1, len, 32]),
        &m.device(),
    );
    let f = |k: &str| case[k].as_f64().unwrap();
    let cfg = FrameFusionDrop {
        cost: f("cost"),
        similarity_lower_bound: f("similarity_lower_bound"),
        ratio_lower_bound: f("ratio_lower_bound"),
        positions: match case["positions"].as_str().unwrap() {
            "keep" => PositionMode::Keep,
            _ => PositionMode::Renumber,
        },
    };
    let (t, n) = (
        case["frames"].as_u64().unwrap() as usize,
        case["per_frame"].as_u64().unwrap() as usize,
    );
    PrefillInput {
        embeds,
        visual_start: case["visual_start"].as_u64().unwrap() as usize,
        visual_len: t * n,
        plan: build_schedule(&DropoutConfig::FrameFusion(cfg)).plan(4, t * n),
        queries: vec![len - 1],
        capture_layers: vec![],
        frames,
        kv_cache: Default::default(),
    }
}

fn layout(case: &serde_json::Value) -> FrameLayout {
    FrameLayout {
        frames: case["frames"].as_u64().unwrap() as usize,
        per_frame: case["per_frame"].as_u64().unwrap() as usize,
    }
}

#[test]
fn merges_prunes_and_decodes_as_the_reference() {
    let fx = json("framefusion.json");
    let m = model("gqa");
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let (out, mut cache) = m.prefill(input(case, Some(layout(case))));
        let want: Vec<(usize, Vec<u32>)> = case["trace"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let kept = s["kept"].as_array().unwrap();
                (
                    s["after_layer"].as_u64().unwrap() as usize,
                    kept.iter().map(|v| v.as_u64().unwrap() as u32).collect(),
                )
            })
            .collect();
        let got: Vec<(usize, Vec<u32>)> = out
            .trace
            .stages
            .iter()
            .map(|s| (s.after_layer, s.kept.clone()))
            .collect();
        assert_eq!(got, want, "{name}: kept tokens per step");
        let lens: Vec<usize> = case["seq_lens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(out.seq_lens, lens, "{name}: sequence length per layer");
        let d = max_diff(&vec2(out.last_logits), &floats(&case["last_logits"]));
        assert!(d < 1e-4, "{name}: last logits differ by {d}");
        let token = case["decode_token"].as_u64().unwrap() as u32;
        let step = vec2(m.decode_step(token, &mut cache));
        let d = max_diff(&step, &floats(&case["decode_logits"]));
        assert!(d < 1e-4, "{name}: decode logits differ by {d}");
    }
}

#[test]
#[should_panic(expected = "dropout.kind = \"framefusion\" needs the frame layout")]
fn refuses_an_input_without_frame_layout() {
    let fx = json("framefusion.json");
    let m = model("gqa");
    let _ = m.prefill(input(&fx["cases"][0], None));
}

#[test]
#[should_panic(expected = "does not cover")]
fn refuses_a_layout_that_does_not_cover_the_visual_block() {
    let fx = json("framefusion.json");
    let m = model("gqa");
    let case = &fx["cases"][0];
    let mut l = layout(case);
    l.per_frame += 1;
    let _ = m.prefill(input(case, Some(l)));
}
