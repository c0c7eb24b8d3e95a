//! Done-when of the training issue: a tiny model trained on CPU on synthetic videos whose
//! answer is in the frames (the video's colour) reaches clearly better than chance (25%)
//! on held-out videos of other shades, within a minute or two.

mod common;

use hico_backend::{Cpu, CpuAutodiff, cpu_device};
use hico_train::{
    load_trained,
    metrics::read_metrics,
    run_stage,
    synth_data::{COLOURS, QUESTION},
};

#[test]
fn tiny_model_learns_colours_from_pixels() {
    let _guard = common::lock();
    let (p, s) = (common::pipeline(), common::stage());
    let dev = cpu_device();
    let out_dir = tempfile::tempdir().unwrap();
    let t0 = std::time::Instant::now();
    let out = run_stage::<CpuAutodiff>(&p, &s, None, out_dir.path(), false, &dev).unwrap();
    let train_s = t0.elapsed().as_secs_f64();
    let m = read_metrics(&out_dir.path().join("metrics.jsonl")).unwrap();
    let first: f32 = m[..4].iter().map(|m| m.loss).sum::<f32>() / 4.0;
    let last: f32 = m[m.len() - 4..].iter().map(|m| m.loss).sum::<f32>() / 4.0;

    let cfg_text = std::fs::read_to_string(out.checkpoint.join("pipeline.json")).unwrap();
    let cfg = serde_json::from_str(&cfg_text).unwrap();
    let pipe = load_trained::<Cpu>(&cfg, &out.checkpoint, &dev).unwrap();
    let firsts: Vec<u32> = COLOURS
        .iter()
        .map(|(w, _)| pipe.tokenizer.encode(w)[0])
        .collect();
    let text = std::fs::read_to_string(common::dataset().join("test.json")).unwrap();
    let items: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    let mut correct = 0;
    for item in &items {
        let path = common::dataset().join(item["video"].as_str().unwrap());
        let answer = item["conversations"][1]["value"].as_str().unwrap();
        let video = pipe.encode_video(&path, None).unwrap();
        let logits = pipe
            .prefill(&video, QUESTION, Vec::new())
            .unwrap()
            .last_logits;
        let row = logits.into_data().to_vec::<f32>().unwrap();
        let best = (0..COLOURS.len())
            .max_by(|&a, &b| row[firsts[a] as usize].total_cmp(&row[firsts[b] as usize]))
            .unwrap();
        correct += usize::from(COLOURS[best].0 == answer);
    }
    let acc = correct as f64 / items.len() as f64;
    eprintln!(
        "trained {} steps in {train_s:.1} s, loss {first:.3} -> {last:.3}, held-out accuracy {acc:.3} ({correct}/{})",
        out.steps,
        items.len()
    );
    assert!(last < first, "loss did not fall: {first} -> {last}");
    assert!(acc >= 0.75, "held-out accuracy {acc} (chance 0.25)");
}
