//! transformers' logits processors on fixed logits (fixture `logits_processors.json` from
//! `scripts/make_llm_family_fixtures.py`): temperature, top-k, top-p and repetition penalty
//! alone, and composed in transformers' order, with ties, −∞ and very negative logits.

mod common;

use common::json;
use hico_core::config::GenerationConfig;
use hico_llm::sampling::{process, repetition_penalty, softmax, temperature, top_k, top_p};
use serde_json::Value;

/// A list of numbers where −∞ is written as the string `"-inf"`.
fn row(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| match x {
            Value::String(s) if s == "-inf" => f32::NEG_INFINITY,
            x => x.as_f64().unwrap() as f32,
        })
        .collect()
}

/// Equal within 1e-5 relative, −∞ exactly where expected.
fn assert_close(got: &[f32], want: &[f32], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= 1e-5 * w.abs().max(1.0)
        };
        assert!(ok, "{what}: index {i}: got {g}, want {w}");
    }
}

/// The ids the repetition penalty sees.
fn previous_ids(rec: &serde_json::Value) -> Vec<u32> {
    rec["previous_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn each_processor_matches_transformers() {
    let rec = json("logits_processors.json");
    let seen = previous_ids(&rec);
    let mut checked = 0;
    for (c, case) in rec["cases"].as_array().unwrap().iter().enumerate() {
        let logits = row(&case["logits"]);
        type Apply = fn(&mut [f32], f64, &[u32]);
        let procs: [(&str, Apply); 4] = [
            ("temperature", |s, x, _| temperature(s, x as f32)),
            ("top_k", |s, x, _| top_k(s, x as usize)),
            ("top_p", |s, x, _| top_p(s, x as f32)),
            ("repetition_penalty", |s, x, seen| {
                repetition_penalty(s, seen, x as f32)
            }),
        ];
        for (name, apply) in procs {
            for (param, want) in case[name].as_object().unwrap() {
                let mut got = logits.clone();
                apply(&mut got, param.parse().unwrap(), &seen);
                assert_close(&got, &row(want), &format!("case {c}: {name} {param}"));
                checked += 1;
            }
        }
    }
    assert!(checked >= 24, "{checked} checks");
}

#[test]
fn composed_processors_match_transformers_order() {
    let rec = json("logits_processors.json");
    let seen = previous_ids(&rec);
    for comp in rec["composed"].as_array().unwrap() {
        let order: Vec<&str> = comp["order"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o.as_str().unwrap())
            .collect();
        assert_eq!(
            order,
            [
                "RepetitionPenaltyLogitsProcessor",
                "TemperatureLogitsWarper",
                "TopKLogitsWarper",
                "TopPLogitsWarper"
            ],
            "the order `process` implements"
        );
        let c = &comp["config"];
        let cfg = GenerationConfig {
            temperature: c["temperature"].as_f64().unwrap(),
            top_k: c["top_k"].as_u64().unwrap() as usize,
            top_p: c["top_p"].as_f64().unwrap(),
            repetition_penalty: c["repetition_penalty"].as_f64().unwrap(),
            ..Default::default()
        };
        let cases = rec["cases"].as_array().unwrap();
        for (i, out) in comp["outputs"].as_array().unwrap().iter().enumerate() {
            let mut got = row(&cases[i]["logits"]);
            // Before top-p: to find the tokens tied with each other there.
            let mut before = got.clone();
            process(
                &mut before,
                &seen,
                &GenerationConfig {
                    top_p: 1.0,
                    ..cfg.clone()
                },
            );
            process(&mut got, &seen, &cfg);
            let what = format!("composed {cfg:?} case {i}");
            let (want, want_p) = (row(&out["scores"]), row(&out["probs"]));
            let got_p = softmax(&got);
            // Top-p cuts a sorted list: which of several tokens tied at the cut are removed
            // depends on the sort's order of equal values (torch's sort is not stable; hico's
            // keeps ids in ascending order). Within each group of tied tokens the number
            // kept and their values must agree; every other token exactly as transformers.
            for (j, b) in before.iter().enumerate() {
                let group: Vec<usize> = (0..before.len())
                    .filter(|&k| before[k] == *b && b.is_finite())
                    .collect();
                if group.len() < 2 {
                    assert_close(&got[j..=j], &want[j..=j], &format!("{what}: id {j}"));
                    assert_close(&got_p[j..=j], &want_p[j..=j], &format!("{what}: p of {j}"));
                    continue;
                }
                let kept = |v: &[f32]| {
                    let mut k: Vec<f32> = group
                        .iter()
                        .map(|&g| v[g])
                        .filter(|x| x.is_finite())
                        .collect();
                    k.sort_by(f32::total_cmp);
                    k
                };
                let tied = format!("{what}: tied ids {group:?}");
                assert_close(&kept(&got), &kept(&want), &tied);
                assert_close(&kept(&got_p), &kept(&want_p), &tied);
            }
        }
    }
}
