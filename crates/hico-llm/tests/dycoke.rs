//! DyCoke's decode-time KV-cache pruning against `scripts/dycoke_ref.py` (fixture
//! `dycoke.json`, the official rule re-read into a torch Qwen2 over the `gqa` model): greedy
//! tokens, the visual entries each decode step attended to, each step's similarity to the
//! previous and its logits. The cases cover the defaults, scoring at layer 1, and thresholds
//! that let some steps attend to the whole cache.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::{floats, json, max_diff, model};
use hico_backend::Cpu;
use hico_core::config::{DropoutConfig, DycokeKv, FastvDrop, GenerationConfig, KvCacheConfig};
use hico_core::{LanguageModel, PrefillInput};
use hico_llm::{build_schedule, generate};

fn vec2(t: Tensor<Cpu, 2>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

fn usizes(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn input(case: &serde_json::Value, kv_cache: KvCacheConfig) -> PrefillInput<Cpu> {
    let len = case["len"].as_u64().unwrap() as usize;
    let embeds = Tensor::<Cpu, 3>::from_data(
        TensorData::new(floats(&case["embeds"]), [1, len, 32]),
        &Default::default(),
    );
    PrefillInput {
        embeds,
        visual_start: case["visual_start"].as_u64().unwrap() as usize,
        visual_len: case["visual_len"].as_u64().unwrap() as usize,
        plan: Default::default(),
        queries: vec![len - 1],
        capture_layers: vec![],
        frames: None,
        kv_cache,
    }
}

fn dycoke(case: &serde_json::Value) -> KvCacheConfig {
    KvCacheConfig::Dycoke(DycokeKv {
        dycoke_l: case["dycoke_l"].as_u64().unwrap() as usize,
        dycoke_p: case["dycoke_p"].as_f64().unwrap(),
        similarity_threshold: case["similarity_threshold"].as_f64().unwrap(),
    })
}

#[test]
fn generates_and_prunes_as_the_reference() {
    let fx = json("dycoke.json");
    let m = model("gqa");
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let tokens: Vec<u32> = usizes(&case["tokens"]).iter().map(|&t| t as u32).collect();
        let cfg = GenerationConfig {
            max_new_tokens: tokens.len(),
            ..Default::default()
        };
        let g = generate(&m, input(case, dycoke(case)), &[], &cfg, &[], |_| {});
        assert_eq!(g.tokens, tokens, "{name}: greedy tokens");
        assert_eq!(
            g.visual_kv_per_step,
            usizes(&case["used"]),
            "{name}: visual entries per decode step"
        );

        // Step by step on the reference's tokens: logits and similarities.
        let (_, mut cache) = m.prefill(input(case, dycoke(case)));
        for (s, want) in case["step_logits"].as_array().unwrap().iter().enumerate() {
            let got = vec2(m.decode_step(tokens[s], &mut cache));
            let d = max_diff(&got, &floats(want));
            assert!(d < 1e-4, "{name} step {s}: logits differ by {d}");
        }
        let sims = &cache.dycoke.as_ref().unwrap().similarity;
        let want = floats(&case["similarity"]);
        let sims: Vec<f32> = sims.iter().map(|&x| x as f32).collect();
        assert!(
            max_diff(&sims, &want) < 1e-4,
            "{name}: {sims:?} vs {want:?}"
        );
    }
}

/// A threshold no similarity is below attends to every entry at every step: the decode
/// logits are those of `kind = "none"`, bit for bit.
#[test]
fn a_step_that_does_not_prune_is_the_plain_decode_step() {
    let fx = json("dycoke.json");
    let m = model("gqa");
    let case = &fx["cases"][0];
    let never = KvCacheConfig::Dycoke(DycokeKv {
        similarity_threshold: -1.0,
        ..DycokeKv::default()
    });
    let (_, mut a) = m.prefill(input(case, KvCacheConfig::None));
    let (_, mut b) = m.prefill(input(case, never));
    for t in [5u32, 17, 99] {
        let (x, y) = (
            vec2(m.decode_step(t, &mut a)),
            vec2(m.decode_step(t, &mut b)),
        );
        assert_eq!(x, y, "token {t}");
    }
    assert_eq!(m.visual_kv_per_step(&a), Vec::<usize>::new());
    assert_eq!(m.visual_kv_per_step(&b), vec![40; 3]);
}

#[test]
#[should_panic(expected = "kv_cache.kind = \"dycoke\" needs a prefill that keeps every")]
fn refuses_a_prefill_that_drops_visual_tokens() {
    let fx = json("dycoke.json");
    let m = model("gqa");
    let case = &fx["cases"][0];
    let mut inp = input(case, dycoke(case));
    let fastv = DropoutConfig::Fastv(FastvDrop {
        layer: 2,
        ratio: 0.5,
        positions: Default::default(),
    });
    inp.plan = build_schedule(&fastv).plan(4, inp.visual_len);
    let _ = m.prefill(inp);
}
