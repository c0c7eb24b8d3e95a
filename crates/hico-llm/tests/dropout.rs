//! Progressive visual dropout executed inside the model: parity with the reference rule
//! (fixture `dropout.json` from `scripts/make_llm_fixtures.py`), `none` equal to the plain
//! model bit for bit, keep counts, text never dropped, cached decoding after a dropped
//! prefill equal to a full forward, attention captures.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::{floats, json, max_diff, model};
use hico_backend::Cpu;
use hico_core::{DropPlan, DropStage, KeepRule, LanguageModel, PositionMode, PrefillInput};
use hico_llm::{CausalLm, ids_tensor, text_input};

/// `pre ++ visual ++ post` embeddings of the dropout fixture and the visual block.
fn fixture_input(m: &CausalLm<Cpu>, rec: &serde_json::Value, plan: DropPlan) -> PrefillInput<Cpu> {
    let ids = |k: &str| -> Vec<u32> {
        rec[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect()
    };
    let dev = m.device();
    let vis: Vec<f32> = rec["visual"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(floats)
        .collect();
    let n_vis = vis.len() / 32;
    let visual = Tensor::<Cpu, 3>::from_data(TensorData::new(vis, [1, n_vis, 32]), &dev);
    let (pre, post) = (ids("pre_ids"), ids("post_ids"));
    let embeds = Tensor::cat(
        vec![
            m.embed(ids_tensor(&pre, &dev)),
            visual,
            m.embed(ids_tensor(&post, &dev)),
        ],
        1,
    );
    let l = pre.len() + n_vis + post.len();
    PrefillInput {
        embeds,
        visual_start: pre.len(),
        visual_len: n_vis,
        plan,
        queries: vec![l - 1],
        capture_layers: vec![],
        frames: None,
        kv_cache: Default::default(),
    }
}

fn plan(stages: &[(usize, usize, KeepRule)], positions: PositionMode) -> DropPlan {
    DropPlan {
        stages: stages
            .iter()
            .map(|&(after_layer, keep, rule)| DropStage {
                after_layer,
                keep,
                rule,
            })
            .collect(),
        positions,
        fusion: None,
    }
}

fn vec2(t: Tensor<Cpu, 2>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

#[test]
fn kept_indices_and_logits_match_the_reference_rule() {
    let m = model("gqa");
    let rec = json("dropout.json");
    for (c, case) in rec["cases"].as_array().unwrap().iter().enumerate() {
        let layers: Vec<usize> = case["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let ratios = floats(&case["ratios"]);
        let rules = case["rules"].as_array().unwrap();
        let stages: Vec<(usize, usize, KeepRule)> = layers
            .iter()
            .enumerate()
            .map(|(s, &l)| {
                let rule = if rules[s] == "uniform" {
                    KeepRule::Uniform
                } else {
                    KeepRule::Attention
                };
                (l, (24.0 * ratios[s + 1] as f64) as usize, rule)
            })
            .collect();
        let input = fixture_input(&m, &rec, plan(&stages, PositionMode::Renumber));
        let (out, _) = m.prefill(input);
        for (s, want) in case["stages"].as_array().unwrap().iter().enumerate() {
            let kept: Vec<u32> = want["kept"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect();
            assert_eq!(out.trace.stages[s].kept, kept, "case {c} stage {s}");
            assert_eq!(out.trace.stages[s].after_layer, layers[s]);
        }
        let d = max_diff(&vec2(out.last_logits), &floats(&case["last_logits"]));
        assert!(d < 1e-4, "case {c}: max |Δlogit| = {d}");
        let final_len = case["seq_len"].as_u64().unwrap() as usize;
        assert_eq!(*out.seq_lens.last().unwrap(), final_len, "case {c}");
    }
}

#[test]
fn none_plan_is_the_plain_model_bit_for_bit() {
    let m = model("gqa");
    let rec = json("dropout.json");
    let input = fixture_input(&m, &rec, DropPlan::none());
    let plain = text_input(input.embeds.clone());
    let (a, _) = m.prefill(input);
    let (b, _) = m.prefill(plain);
    assert_eq!(vec2(a.last_logits), vec2(b.last_logits));
    assert!(a.trace.stages.is_empty());
    assert_eq!(a.seq_lens, vec![32; 4]);
}

#[test]
fn keep_counts_and_text_survive_under_every_rule_and_position_mode() {
    let m = model("gqa");
    let rec = json("dropout.json");
    for rule in [KeepRule::Uniform, KeepRule::Attention] {
        for pm in [PositionMode::Renumber, PositionMode::Keep] {
            let p = plan(&[(1, 18, rule), (2, 12, rule), (3, 3, rule)], pm);
            let at: Vec<usize> = (27..32).collect();
            let out = m.forward_train(fixture_input(&m, &rec, p), &at).unwrap();
            let (logits, src) = (out.logits, out.src);
            assert_eq!(logits.dims(), [5, 128]);
            assert_eq!(src.len(), 3 + 3 + 5);
            let text: Vec<usize> = (0..3).chain(27..32).collect();
            assert!(
                text.iter().all(|t| src.contains(t)),
                "{rule:?} {pm:?}: text dropped: {src:?}"
            );
            let (out, _) = m.prefill(fixture_input(
                &m,
                &rec,
                plan(&[(1, 18, rule), (2, 12, rule), (3, 3, rule)], pm),
            ));
            assert_eq!(out.trace.counts(), vec![24, 18, 12, 3]);
            assert_eq!(out.seq_lens, vec![32, 26, 20, 11]);
        }
    }
}

#[test]
fn cached_decoding_after_a_drop_equals_a_full_forward() {
    let m = model("gqa");
    let rec = json("dropout.json");
    for rule in [KeepRule::Uniform, KeepRule::Attention] {
        for pm in [PositionMode::Renumber, PositionMode::Keep] {
            let p = plan(&[(1, 12, rule), (3, 5, rule)], pm);
            let base = fixture_input(&m, &rec, p.clone());
            let (_, mut cache) = m.prefill(base.clone());
            let mut embeds = base.embeds.clone();
            for tok in [7u32, 90, 3] {
                let step = vec2(m.decode_step(tok, &mut cache));
                embeds = Tensor::cat(vec![embeds, m.embed(ids_tensor(&[tok], &m.device()))], 1);
                // Same plan and query (the last prompt token): causal, so the same tokens drop.
                let full = PrefillInput {
                    embeds: embeds.clone(),
                    ..base.clone()
                };
                let (out, _) = m.prefill(full);
                // Relative to the logits' size: the two paths sum in different orders (a decode
                // step's one query row vs the prefill's query blocks), f32 rounding apart.
                let want = vec2(out.last_logits);
                let scale = want.iter().fold(1f32, |a, b| a.max(b.abs()));
                let d = max_diff(&step, &want);
                assert!(
                    d < 1e-5 * scale,
                    "{rule:?} {pm:?} token {tok}: {d} (logits up to {scale})"
                );
            }
        }
    }
}

#[test]
fn captures_hold_the_query_attention_of_each_layer() {
    let m = model("gqa");
    let rec = json("dropout.json");
    let mut input = fixture_input(
        &m,
        &rec,
        plan(&[(2, 6, KeepRule::Attention)], PositionMode::Renumber),
    );
    input.capture_layers = vec![1, 3];
    let (out, _) = m.prefill(input);
    assert_eq!(out.attention.len(), 2);
    assert_eq!(out.attention[0].visual.len(), 24);
    assert_eq!(out.attention[1].visual.len(), 6);
    let kept: Vec<u32> = out.attention[1].visual.iter().map(|v| v.0).collect();
    assert_eq!(kept, out.trace.stages[0].kept);
    for a in &out.attention {
        let total: f32 = a.text + a.visual.iter().map(|v| v.1).sum::<f32>();
        assert!((total - 1.0).abs() < 1e-4, "layer {}: {total}", a.layer);
    }
}

#[test]
fn training_forward_backpropagates_through_a_drop() {
    use hico_backend::CpuAutodiff;
    let m: CausalLm<CpuAutodiff> =
        CausalLm::load_hf(&common::fixture("gqa"), &Default::default()).unwrap();
    let dev = m.device();
    let vis = Tensor::<CpuAutodiff, 3>::random(
        [1, 24, 32],
        burn::tensor::Distribution::Normal(0.0, 0.5),
        &dev,
    );
    let embeds = Tensor::cat(
        vec![
            m.embed(ids_tensor(&[1, 5, 9], &dev)),
            vis,
            m.embed(ids_tensor(&[77, 3], &dev)),
        ],
        1,
    );
    let p = plan(
        &[(1, 12, KeepRule::Uniform), (2, 4, KeepRule::Attention)],
        PositionMode::Renumber,
    );
    let input = PrefillInput {
        embeds,
        visual_start: 3,
        visual_len: 24,
        plan: p,
        queries: vec![27],
        capture_layers: vec![],
        frames: None,
        kv_cache: Default::default(),
    };
    let out = m.forward_train(input, &[27, 28]).unwrap();
    let (logits, src) = (out.logits, out.src);
    assert_eq!(src.len(), 3 + 4 + 2);
    assert_eq!(logits.dims(), [2, 128]);
    let grads = logits.sum().backward();
    let g = m.model.layers[3]
        .self_attn
        .q_proj
        .weight
        .grad(&grads)
        .expect("gradient reaches the last layer");
    assert!(g.abs().sum().into_scalar() > 0.0);
}

#[test]
fn removing_every_visual_token_before_layer_one_is_the_prompt_without_the_video() {
    // `remove_all` with `after_layer = 0`: a stage before the first layer keeping nothing.
    // With renumbered positions the text after the video continues where the text before
    // it ended, so the LLM runs exactly the prompt without the visual block, bit for bit.
    let m = model("gqa");
    let rec = json("dropout.json");
    let input = fixture_input(
        &m,
        &rec,
        plan(&[(0, 0, KeepRule::Uniform)], PositionMode::Renumber),
    );
    let (vs, n_vis, l) = (input.visual_start, input.visual_len, input.embeds.dims()[1]);
    let [_, _, hidden] = input.embeds.dims();
    let text = Tensor::cat(
        vec![
            input.embeds.clone().slice([0..1, 0..vs, 0..hidden]),
            input.embeds.clone().slice([0..1, vs + n_vis..l, 0..hidden]),
        ],
        1,
    );
    let (blind, _) = m.prefill(input);
    let (plain, _) = m.prefill(text_input(text));
    assert_eq!(vec2(blind.last_logits), vec2(plain.last_logits));
    assert_eq!(blind.seq_lens, vec![l - n_vis; 4]);
    assert_eq!(blind.trace.stages.len(), 1);
    assert_eq!(blind.trace.stages[0].after_layer, 0);
    assert!(blind.trace.stages[0].kept.is_empty());
    // After layer k (here 2) the first k layers see the video, the others none of it.
    let late = fixture_input(
        &m,
        &rec,
        plan(&[(2, 0, KeepRule::Attention)], PositionMode::Keep),
    );
    let (out, _) = m.prefill(late);
    assert_eq!(out.seq_lens, vec![l, l, l - n_vis, l - n_vis]);
}
