//! Parity with PyTorch `transformers` (fixtures from `scripts/make_llm_fixtures.py`):
//! logits of fixed prompts within 1e-4, greedy continuations exact, cached decoding equal
//! to a full forward, save → reload lossless.

mod common;

use common::{fixture, floats, json, max_diff, model};
use hico_core::LanguageModel;
use hico_core::backend::Cpu;
use hico_core::config::GenerationConfig;
use hico_llm::{Qwen2, generate, ids_tensor, text_input};

fn to_vec(t: burn::tensor::Tensor<Cpu, 3>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

#[test]
fn logits_and_greedy_match_transformers() {
    for name in ["tied", "untied", "gqa"] {
        let m = model(name);
        let rec = json(&format!("{name}.json"));
        for (i, prompt) in rec["prompts"].as_array().unwrap().iter().enumerate() {
            let ids: Vec<u32> = prompt
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            let want: Vec<f32> = rec["logits"][i]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(floats)
                .collect();
            let got = to_vec(m.forward_ids(&ids));
            let d = max_diff(&got, &want);
            assert!(d < 1e-4, "{name} prompt {i}: max |Δlogit| = {d}");
            let greedy: Vec<u32> = rec["greedy"][i]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            let cfg = GenerationConfig {
                max_new_tokens: greedy.len(),
                ..Default::default()
            };
            let embeds = m.embed(ids_tensor(&ids, &m.device()));
            let g = generate(&m, text_input(embeds), &cfg, &[], |_| {});
            assert_eq!(g.tokens, greedy, "{name} prompt {i}: greedy continuation");
        }
    }
}

#[test]
fn cached_decoding_equals_full_forward() {
    let m = model("gqa");
    let ids = [3u32, 9, 27, 100, 5, 64];
    let (_, mut cache) = m.prefill(text_input(m.embed(ids_tensor(&ids[..3], &m.device()))));
    for n in 3..ids.len() {
        let step: Vec<f32> = m
            .decode_step(ids[n], &mut cache)
            .into_data()
            .to_vec()
            .unwrap();
        let full = to_vec(m.forward_ids(&ids[..=n]));
        let v = step.len();
        let d = max_diff(&step, &full[full.len() - v..]);
        assert!(d < 1e-5, "step {n}: {d}");
    }
}

#[test]
fn save_then_reload_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["untied", "gqa"] {
        let m = model(name);
        m.save_hf(dir.path()).unwrap();
        let back: Qwen2<Cpu> = Qwen2::load_hf(dir.path(), &Default::default()).unwrap();
        let ids = [1u32, 2, 3, 4];
        assert_eq!(
            to_vec(m.forward_ids(&ids)),
            to_vec(back.forward_ids(&ids)),
            "{name}"
        );
        assert_eq!(back.config.tie_word_embeddings, name == "gqa");
    }
    assert!(fixture("gqa").join("model.safetensors").exists());
    // `scripts/llm_check_saved.py DIR` checks that transformers loads what save_hf wrote.
    if let Ok(out) = std::env::var("HICO_LLM_SAVE_TO") {
        model("untied").save_hf(std::path::Path::new(&out)).unwrap();
    }
}
