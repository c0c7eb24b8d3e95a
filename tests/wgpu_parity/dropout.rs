//! Every dropout schedule on wgpu against flex, and the two reference fixtures: the staged
//! rules of `dropout.json` (kept indices and logits of the reference rule) and FrameFusion's
//! `framefusion.json` (the official rule re-read into torch), all on the `gqa` fixture model.

use burn::tensor::{Tensor, TensorData};
use hico_core::config::AttentionImpl;
use hico_core::config::{DropoutConfig, FrameFusionDrop};
use hico_core::{FrameLayout, PositionMode, PrefillInput};
use hico_llm::{CausalLm, build_schedule};
use serde_json::{Value, json as j};

use super::common::{Cpu, Gpu, close, cpu, floats, gpu, json, model, prefill_and_decode};

/// Logits against flex or the reference: f32 on both sides, reductions ordered differently
/// (see llm.rs). Kept indices must be equal: a rank flip between two near-tied attention
/// scores would show here first.
const TOL: f32 = 1e-4;

/// Every schedule kind, as a config would write it, for the 4-layer `gqa` model.
fn schedules() -> Vec<DropoutConfig> {
    let staged =
        |kind: &str| j!({"kind": kind, "layers": [1, 2, 3], "ratios": [1.0, 0.5, 0.25, 0.125]});
    [
        j!({"kind": "none"}),
        staged("uniform"),
        staged("attention"),
        staged("uniform0_attention"),
        j!({"kind": "fastv", "layer": 2, "ratio": 0.5}),
        staged("pyramid"),
        j!({"kind": "framefusion"}),
        j!({"kind": "framefusion", "cost": 0.5, "similarity_lower_bound": 0.0, "positions": "renumber"}),
        j!({"kind": "remove_all", "after_layer": 0}),
        j!({"kind": "remove_all", "after_layer": 2, "positions": "keep"}),
    ]
    .into_iter()
    .map(|v| serde_json::from_value(v).expect("a dropout config"))
    .collect()
}

/// The visual case of `framefusion.json` (frames of same-position tokens) on backend `B`.
fn input<B: hico_backend::HicoBackend>(
    case: &Value,
    cfg: &DropoutConfig,
    device: &B::Device,
) -> PrefillInput<B> {
    let len = case["len"].as_u64().unwrap() as usize;
    let n = |k: &str| case[k].as_u64().unwrap() as usize;
    let (frames, per_frame) = (n("frames"), n("per_frame"));
    let embeds = Tensor::from_data(
        TensorData::new(floats(&case["embeds"]), [1, len, 32]),
        device,
    );
    PrefillInput {
        embeds,
        visual_start: n("visual_start"),
        visual_len: frames * per_frame,
        plan: build_schedule(cfg).plan(4, frames * per_frame),
        queries: vec![len - 1],
        capture_layers: vec![],
        frames: Some(FrameLayout { frames, per_frame }),
        kv_cache: Default::default(),
    }
}

#[test]
fn every_schedule_matches_flex() {
    let fx = json("framefusion.json");
    let case = &fx["cases"][0];
    let g: CausalLm<Gpu> = model("gqa", AttentionImpl::Own, &gpu());
    let c: CausalLm<Cpu> = model("gqa", AttentionImpl::Own, &cpu());
    for cfg in schedules() {
        let what = format!("dropout {} {:?}", cfg.kind(), cfg);
        let toks = [7, 19, 3];
        let (got, go) = prefill_and_decode(&g, input(case, &cfg, &gpu()), &toks);
        let (want, co) = prefill_and_decode(&c, input(case, &cfg, &cpu()), &toks);
        let kept = |t: &hico_core::RetentionTrace| {
            t.stages
                .iter()
                .map(|s| (s.after_layer, s.kept.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(kept(&go.trace), kept(&co.trace), "{what}: kept tokens");
        assert_eq!(
            go.seq_lens, co.seq_lens,
            "{what}: sequence length per layer"
        );
        let name = format!("dropout {} (seq lens {:?})", cfg.kind(), go.seq_lens);
        close(
            &format!("{name}: prefill + 3 decode steps vs flex"),
            &got,
            &want,
            TOL,
        );
    }
}

#[test]
fn staged_rules_match_the_reference() {
    let rec = json("dropout.json");
    let m: CausalLm<Gpu> = model("gqa", AttentionImpl::Own, &gpu());
    let dev = gpu();
    let vis = floats(&rec["visual"]);
    let n_vis = vis.len() / 32;
    let ids = |k: &str| super::common::ids(&rec[k]);
    let (pre, post) = (ids("pre_ids"), ids("post_ids"));
    for (c, case) in rec["cases"].as_array().unwrap().iter().enumerate() {
        use hico_core::LanguageModel;
        let layers = super::common::ids(&case["layers"]);
        let ratios = floats(&case["ratios"]);
        let rules = case["rules"].as_array().unwrap();
        let stages = layers
            .iter()
            .enumerate()
            .map(|(s, &l)| hico_core::DropStage {
                after_layer: l as usize,
                keep: (24.0 * ratios[s + 1] as f64) as usize,
                rule: if rules[s] == "uniform" {
                    hico_core::KeepRule::Uniform
                } else {
                    hico_core::KeepRule::Attention
                },
            })
            .collect();
        let visual =
            Tensor::<Gpu, 3>::from_data(TensorData::new(vis.clone(), [1, n_vis, 32]), &dev);
        let embeds = Tensor::cat(
            vec![
                m.embed(hico_llm::ids_tensor(&pre, &dev)),
                visual,
                m.embed(hico_llm::ids_tensor(&post, &dev)),
            ],
            1,
        );
        let l = pre.len() + n_vis + post.len();
        let input = PrefillInput {
            embeds,
            visual_start: pre.len(),
            visual_len: n_vis,
            plan: hico_core::DropPlan {
                stages,
                positions: PositionMode::Renumber,
                fusion: None,
            },
            queries: vec![l - 1],
            capture_layers: vec![],
            frames: None,
            kv_cache: Default::default(),
        };
        let (out, _) = m.prefill(input);
        for (s, want) in case["stages"].as_array().unwrap().iter().enumerate() {
            assert_eq!(
                out.trace.stages[s].kept,
                super::common::ids(&want["kept"]),
                "case {c} stage {s}"
            );
        }
        let got = super::common::values(out.last_logits);
        close(
            &format!("dropout.json case {c} vs reference"),
            &got,
            &floats(&case["last_logits"]),
            TOL,
        );
    }
}

#[test]
fn framefusion_matches_the_reference() {
    let fx = json("framefusion.json");
    let m: CausalLm<Gpu> = model("gqa", AttentionImpl::Own, &gpu());
    for case in fx["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let f = |k: &str| case[k].as_f64().unwrap();
        let cfg = DropoutConfig::FrameFusion(FrameFusionDrop {
            cost: f("cost"),
            similarity_lower_bound: f("similarity_lower_bound"),
            ratio_lower_bound: f("ratio_lower_bound"),
            positions: match case["positions"].as_str().unwrap() {
                "keep" => PositionMode::Keep,
                _ => PositionMode::Renumber,
            },
        });
        let token = case["decode_token"].as_u64().unwrap() as u32;
        let (got, out) = prefill_and_decode(&m, input(case, &cfg, &gpu()), &[token]);
        let want_kept: Vec<(usize, Vec<u32>)> = case["trace"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["after_layer"].as_u64().unwrap() as usize,
                    super::common::ids(&s["kept"]),
                )
            })
            .collect();
        let kept: Vec<(usize, Vec<u32>)> = out
            .trace
            .stages
            .iter()
            .map(|s| (s.after_layer, s.kept.clone()))
            .collect();
        assert_eq!(kept, want_kept, "framefusion {name}: kept tokens per step");
        assert_eq!(
            out.seq_lens,
            super::common::ids(&case["seq_lens"])
                .iter()
                .map(|&x| x as usize)
                .collect::<Vec<_>>()
        );
        let mut want = floats(&case["last_logits"]);
        want.extend(floats(&case["decode_logits"]));
        close(
            &format!("framefusion {name}: last + decode logits vs reference"),
            &got,
            &want,
            TOL,
        );
    }
}
