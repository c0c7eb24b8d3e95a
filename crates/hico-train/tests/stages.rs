//! Stage behaviour: frozen parts stay bit-identical, a non-finite loss stops with the step
//! and the sample named and the last good checkpoint kept, stages chain through their final
//! folders, the final folder reloads as a pipeline (burn record and HF LLM export), and
//! unreadable samples are skipped and logged up to `data.max_skipped`.

mod common;

use hico_backend::{Cpu, CpuAutodiff, cpu_device};
use hico_model::Pipeline;
use hico_train::{StageConfig, TrainError, checkpoint, load_trained, run_stage};

fn short(max_steps: usize) -> StageConfig {
    let mut s = common::stage();
    s.max_steps = max_steps;
    s.checkpoint.every = 2;
    s
}

#[test]
fn frozen_parts_are_bit_identical_after_a_stage() {
    let _guard = common::lock();
    let p = common::pipeline();
    let mut s = short(3);
    s.lr.encoder = None;
    s.lr.llm = None;
    let dir = tempfile::tempdir().unwrap();
    let dev = cpu_device();
    // burn initialises parameters lazily, and a clone of an uninitialised parameter draws
    // its own values: snapshot first (materialising in place), then write the initial
    // weights out and start the stage from them.
    let before = Pipeline::<Cpu>::new(p.clone(), &dev).unwrap().model;
    let (enc0, llm0, conn0) = (
        common::params(&before.encoder),
        common::params(&before.llm),
        common::params(&before.connector),
    );
    let init = dir.path().join("init");
    checkpoint::save_weights(&before, &init).unwrap();
    let out_dir = dir.path().join("out");
    let out = run_stage::<CpuAutodiff>(&p, &s, Some(&init), &out_dir, false, &dev).unwrap();
    let after = load_trained::<Cpu>(&out_cfg(&out.checkpoint), &out.checkpoint, &dev)
        .unwrap()
        .model;
    use common::{diff, params};
    assert_eq!(
        diff(&enc0, &params(&after.encoder)),
        None,
        "encoder changed"
    );
    assert_eq!(diff(&llm0, &params(&after.llm)), None, "llm changed");
    let conn = diff(&conn0, &params(&after.connector));
    assert!(conn.is_some(), "the trained part must change");
}

fn out_cfg(final_dir: &std::path::Path) -> hico_core::config::PipelineConfig {
    let text = std::fs::read_to_string(final_dir.join("pipeline.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn non_finite_loss_names_step_and_sample_and_keeps_checkpoint() {
    let _guard = common::lock();
    let p = common::pipeline();
    let mut s = short(12);
    s.lr.llm = Some(1e30);
    s.lr.encoder = Some(1e30);
    s.lr.connector = Some(1e30);
    s.optim.warmup_fraction = 0.0;
    let dir = tempfile::tempdir().unwrap();
    let e = run_stage::<CpuAutodiff>(&p, &s, None, dir.path(), false, &cpu_device()).unwrap_err();
    let TrainError::NonFinite {
        step,
        ref sample,
        ref last_checkpoint,
        ..
    } = e
    else {
        panic!("expected a non-finite loss error, got {e}");
    };
    let msg = e.to_string();
    assert!(msg.contains(&format!("at step {step}")), "{msg}");
    assert!(sample.starts_with('#') && sample.contains(".mp4"), "{msg}");
    assert!(step >= 2, "the first step has finite loss: {msg}");
    let latest = checkpoint::latest(&dir.path().join("checkpoints")).unwrap();
    match latest {
        Some(d) => {
            assert_eq!(&d.display().to_string(), last_checkpoint);
            assert!(checkpoint::load_state(&d).unwrap().step < step);
        }
        None => assert_eq!(last_checkpoint, "none"),
    }
}

#[test]
fn stages_chain_and_final_folder_reloads() {
    let _guard = common::lock();
    let p = common::pipeline();
    let dev = cpu_device();
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut s1 = short(2);
    s1.lr.encoder = None;
    s1.lr.llm = None;
    let o1 = run_stage::<CpuAutodiff>(&p, &s1, None, one.path(), false, &dev).unwrap();
    assert_eq!(o1.checkpoint, one.path().join("final"));
    assert!(o1.final_loss.is_finite());
    // Stage 2 starts from stage 1's weights: with the connector frozen it must keep them.
    let mut s2 = short(2);
    s2.lr.connector = None;
    let o2 = run_stage::<CpuAutodiff>(&p, &s2, Some(one.path()), two.path(), false, &dev).unwrap();
    let m1 = load_trained::<Cpu>(&p, one.path(), &dev).unwrap().model;
    let m2 = load_trained::<Cpu>(&p, &o2.checkpoint, &dev).unwrap().model;
    let p1 = |m: &hico_model::VideoLlm<Cpu>| common::params(&m.connector);
    assert_eq!(
        common::diff(&p1(&m1), &p1(&m2)),
        None,
        "frozen connector changed"
    );
    assert!(common::diff(&common::params(&m1.llm), &common::params(&m2.llm)).is_some());
    // The HF export of the LLM loads back into the same weights.
    let hf = hico_llm::CausalLm::<Cpu>::load_hf(&o2.checkpoint.join("llm_hf"), &dev).unwrap();
    assert_eq!(
        common::diff(&common::params(&hf), &common::params(&m2.llm)),
        None
    );
}

#[test]
fn unreadable_samples_are_skipped_and_counted() {
    let _guard = common::lock();
    let p = common::pipeline();
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(common::dataset().join("train.json")).unwrap();
    let mut items: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    items.truncate(4);
    items[1]["video"] = "missing.mp4".into();
    let ann = dir.path().join("ann.json");
    std::fs::write(&ann, serde_json::to_string(&items).unwrap()).unwrap();
    let mut s = short(0);
    s.data.annotations = ann;
    s.epochs = 1;
    let out = run_stage::<CpuAutodiff>(&p, &s, None, &dir.path().join("out"), false, &cpu_device())
        .unwrap();
    assert_eq!(out.skipped_samples, 1);
    let log = std::fs::read_to_string(dir.path().join("out/skipped.jsonl")).unwrap();
    assert!(
        log.contains("missing.mp4") && log.lines().count() == 1,
        "{log}"
    );
    assert_eq!(out.steps, s.total_steps(4));
    // Over the limit: the stage stops, naming the limit and the log.
    s.data.max_skipped = Some(0);
    let e = run_stage::<CpuAutodiff>(&p, &s, None, &dir.path().join("out0"), false, &cpu_device())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data.max_skipped = 0") && e.contains("skipped.jsonl"),
        "{e}"
    );
}

#[test]
fn visual_dropout_in_training_drops_and_still_learns_answers() {
    let _guard = common::lock();
    let mut p = common::pipeline();
    p.dropout = hico_core::config::DropoutConfig::Attention(hico_core::config::StagedDrop {
        layers: vec![1],
        ratios: vec![1.0, 0.5],
        positions: Default::default(),
    });
    let mut s = short(3);
    s.visual_dropout = true;
    let dir = tempfile::tempdir().unwrap();
    let out = run_stage::<CpuAutodiff>(&p, &s, None, dir.path(), false, &cpu_device()).unwrap();
    assert!(out.final_loss.is_finite());
    let m = hico_train::metrics::read_metrics(&dir.path().join("metrics.jsonl")).unwrap();
    for step in &m {
        assert_eq!(step.visual_kept * 2, step.visual_tokens, "{step:?}");
    }
}

#[test]
fn image_items_train_as_one_repeated_frame() {
    let _guard = common::lock();
    let p = common::pipeline();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("red.png");
    let ok = std::process::Command::new("ffmpeg")
        .args([
            "-y",
            "-loglevel",
            "error",
            "-f",
            "lavfi",
            "-i",
            "color=c=red:s=32x32",
        ])
        .args(["-frames:v", "1"])
        .arg(&png)
        .status()
        .unwrap()
        .success();
    assert!(ok, "ffmpeg could not write {}", png.display());
    let ann = dir.path().join("ann.json");
    let item = serde_json::json!([{"image": "red.png", "conversations": [
        {"from": "human", "value": "<image>\nWhat colour is the image?"},
        {"from": "gpt", "value": "red"}]}]);
    std::fs::write(&ann, item.to_string()).unwrap();
    let mut s = short(1);
    s.data.annotations = ann;
    s.data.video_root = dir.path().to_owned();
    let out = run_stage::<CpuAutodiff>(&p, &s, None, &dir.path().join("out"), false, &cpu_device())
        .unwrap();
    assert_eq!(out.skipped_samples, 0);
    assert!(out.final_loss.is_finite());
}
