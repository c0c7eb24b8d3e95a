//! Text formats: pipeline, stage and experiment TOML; LLaVA annotation JSON; NIAH
//! manifests; `tokenizer.json`.

use std::path::{Path, PathBuf};

use hico_eval::{ablate::Experiment, bench::Manifest};
use hico_train::{StageConfig, data::load_annotations};

use super::harness::{Rng, Target, iters, mutate_text};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap()
}

/// Make the seeds (inside the target, so no other target's work is counted), mutate each
/// in turn, write the case to `dir/name`, run `parse` on it.
fn run_text(
    target: &'static str,
    seed: u64,
    seeds: impl FnOnce() -> Vec<String>,
    name: &str,
    parse: impl Fn(PathBuf) -> Result<(), String> + Clone + Send + 'static,
) {
    let mut t = Target::new(target);
    let seeds = seeds();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    for i in 0..iters() {
        let input = mutate_text(&mut rng, &seeds[i % seeds.len()]);
        let file = dir.path().join(name);
        std::fs::write(&file, &input).unwrap();
        let (parse, f) = (parse.clone(), file.clone());
        t.case(i, &input, &file, (64 << 20) + 64 * input.len(), move || {
            parse(f)
        });
    }
    t.report();
}

#[test]
fn pipeline_configs() {
    let seeds = || {
        [
            "configs/tiny.toml",
            "configs/videochat_flash_2b_shape.toml",
            "configs/train/tiny_synth_pipeline.toml",
            "configs/train/bench_small_pipeline.toml",
        ]
        .map(read)
        .into()
    };
    run_text("pipeline_toml", 1, seeds, "fuzz.toml", |f| {
        hico_model::load_config(&f)
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn stage_configs() {
    let seeds = || {
        [
            "configs/train/stage1_align.toml",
            "configs/train/stage3_long.toml",
            "configs/train/tiny_synth.toml",
            "experiments/mh_niah_tiny/stage.toml",
        ]
        .map(read)
        .into()
    };
    run_text("stage_toml", 2, seeds, "stage.toml", |f| {
        StageConfig::load(&f).map(|_| ()).map_err(|e| e.to_string())
    });
}

#[test]
fn experiment_configs() {
    // The base config path made absolute, so a case's cells resolve from any folder.
    let seeds = || {
        vec![read("experiments/mh_niah_tiny.toml").replace(
            "\"configs/tiny.toml\"",
            &format!("{:?}", root().join("configs/tiny.toml")),
        )]
    };
    run_text("experiment_toml", 3, seeds, "exp.toml", |f| {
        let exp = Experiment::load(&f).map_err(|e| e.to_string())?;
        // Expanding the grid reads the base config: its errors may name that file.
        exp.cells(&f).map(|_| ()).map_err(|e| {
            let m = e.to_string();
            if m.contains(&exp.base.display().to_string()) {
                format!("{m} (exp.toml)")
            } else {
                m
            }
        })
    });
}

/// A LLaVA annotation file in both layouts the loader reads.
fn llava_seeds() -> Vec<String> {
    let array = serde_json::json!([
        {"id": "a", "video": "v/a.mp4", "conversations": [
            {"from": "human", "value": "<image>\nWhat colour is the video?"},
            {"from": "gpt", "value": "red"},
            {"from": "human", "value": "Sure?"},
            {"from": "gpt", "value": "Yes."}]},
        {"id": "b", "image": "i/b.png", "conversations": [
            {"from": "human", "value": "<image>\nDescribe."},
            {"from": "gpt", "value": "A square."}]}
    ]);
    let lines = array
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    vec![serde_json::to_string_pretty(&array).unwrap(), lines]
}

#[test]
fn llava_annotations() {
    run_text("llava_json", 4, llava_seeds, "ann.json", |f| {
        load_annotations(&f, Path::new("media"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn niah_manifests() {
    run_text("niah_manifest", 5, manifest_seed, "manifest.json", |f| {
        Manifest::load(f.parent().unwrap())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

/// The manifest of a small multi-hop set, built for real.
fn manifest_seed() -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let spec = hico_eval::bench::BenchSpec::MhNiah(hico_eval::bench::MhNiahSpec {
        frames: vec![16],
        depths: vec![0.5],
        repeats: 1,
        min_hops: 2,
        max_hops: 2,
        distractors: 1,
        decoys: 1,
        size: 32,
        fps: 1.0,
        needle_frames: 4,
        shuffle_options: true,
        seed: 3,
        haystack: Default::default(),
    });
    hico_eval::bench::build_set(&spec, "<fuzz>".as_ref(), dir.path(), None).unwrap();
    vec![std::fs::read_to_string(Manifest::path(dir.path())).unwrap()]
}

/// A small BPE `tokenizer.json` (Qwen layout: byte-level pre-tokenizer and decoder,
/// special tokens), and the real Qwen2 one when `HICO_QWEN_TOKENIZER` names it.
fn tokenizer_seeds() -> Vec<String> {
    let small = serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": [
            {"id": 6, "content": "<|im_start|>", "single_word": false, "lstrip": false,
             "rstrip": false, "normalized": false, "special": true},
            {"id": 7, "content": "<|im_end|>", "single_word": false, "lstrip": false,
             "rstrip": false, "normalized": false, "special": true}
        ],
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                          "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true,
                    "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null,
                  "continuing_subword_prefix": null, "end_of_word_suffix": null,
                  "fuse_unk": false, "byte_fallback": false,
                  "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4, "c": 5},
                  "merges": ["a b", "Ġ ab"]}
    });
    let mut seeds = vec![serde_json::to_string_pretty(&small).unwrap()];
    if let Ok(p) = std::env::var("HICO_QWEN_TOKENIZER")
        && let Ok(text) = std::fs::read_to_string(p)
    {
        seeds.push(text);
    }
    seeds
}

#[test]
fn tokenizer_json() {
    // The 7 MB Qwen file is slow to parse: one case in eight.
    let seeds = || {
        let seeds = tokenizer_seeds();
        (0..8)
            .map(|k| seeds[if k == 7 { seeds.len() - 1 } else { 0 }].clone())
            .collect()
    };
    run_text("tokenizer_json", 6, seeds, "tokenizer.json", |f| {
        hico_llm::HicoTokenizer::from_file(&f)
            .map(|t| {
                // A loaded tokenizer must also encode and decode without panicking.
                let ids = t.encode("ab c <|im_end|>");
                let _ = t.decode(&ids);
            })
            .map_err(|e| e.to_string())
    });
}
