//! One damaged video in a set does not lose the run: `score_set` (behind `hico niah eval`)
//! and the ablation runner skip the question, log it to `skipped.jsonl` with the video and
//! the reason, count it as wrong, and stop only past `max_skipped`.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use hico_core::config::PipelineConfig;
use hico_eval::{
    EvalError,
    ablate::{Experiment, prepare_benchmark, run_grid},
    bench::{BenchSpec, Manifest, NiahSpec, build_set},
    score::{ScoreOptions, score_set},
    skip::Skipped,
};
use hico_model::Pipeline;
use indicatif::MultiProgress;

type B = Flex;

fn tiny_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tiny.toml")
}

/// Cut a video to its first third, as a copy interrupted by a full disk leaves it.
fn damage(set: &Path, m: &Manifest, k: usize) -> String {
    let path = set.join(&m.samples[k].video);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 3]).unwrap();
    m.samples[k].video.clone()
}

fn read_log(path: &Path) -> Vec<Skipped> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn eval_skips_logs_and_counts_a_damaged_video() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    let spec = BenchSpec::Niah(NiahSpec {
        frames: vec![16],
        depths: vec![0.0, 0.5, 1.0],
        repeats: 2,
        size: 64,
        fps: 1.0,
        needle_frames: 4,
        shuffle_options: true,
        seed: 5,
        haystack: Default::default(),
    });
    let m = build_set(&spec, "<test>".as_ref(), &set, None).unwrap();
    let bad = damage(&set, &m, 2);
    let cfg = hico_model::load_config(&tiny_config()).unwrap();
    let pipe = Pipeline::<B>::new(cfg, &Default::default()).unwrap();
    let out = dir.path().join("eval");
    std::fs::create_dir_all(&out).unwrap();
    let opts = ScoreOptions {
        max_skipped: Some(1),
        ..Default::default()
    };
    let s = score_set(&pipe, &set, &m, opts, Some(out.as_path()), None).unwrap();
    assert_eq!(s.samples.len(), 5);
    assert_eq!(s.skipped.len(), 1);
    assert_eq!(s.skipped[0].video, bad);
    assert!(s.skipped[0].reason.contains(&bad), "{:?}", s.skipped[0]);
    assert_eq!(read_log(&out.join("skipped.jsonl")), s.skipped);
    // Counted as wrong: accuracy over all six questions, and in its depth cell.
    let correct = s.samples.iter().filter(|x| x.correct).count();
    assert_eq!(s.accuracy, correct as f64 / 6.0);
    assert_eq!(s.by_depth.iter().map(|c| c.n).sum::<usize>(), 6);
    assert!(s.first_run.is_some());

    // Past the limit the run stops, naming the limit, the log and the video.
    let opts = ScoreOptions {
        max_skipped: Some(0),
        ..Default::default()
    };
    let e = score_set(&pipe, &set, &m, opts, Some(out.as_path()), None).unwrap_err();
    assert!(matches!(e, EvalError::TooManySkipped { skipped: 1, .. }));
    let e = e.to_string();
    assert!(
        e.contains("max_skipped = 0") && e.contains("skipped.jsonl") && e.contains(&bad),
        "{e}"
    );
}

#[test]
fn ablation_finishes_with_a_damaged_video() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let exp_path = dir.path().join("exp.toml");
    let text = format!(
        "name = \"t\"\nbase = {:?}\nout = {:?}\n\
         [benchmark]\nkind = \"niah\"\nframes = [16]\ndepths = [0.0, 0.5, 1.0]\nsize = 64\n\
         [score]\nmax_skipped = 1\n\
         [grid]\n\"compressor\" = [{{ kind = \"pool\", tokens_per_frame = 4 }}]\n",
        tiny_config(),
        out
    );
    std::fs::write(&exp_path, &text).unwrap();
    let exp = Experiment::load(&exp_path).unwrap();
    let multi = MultiProgress::new();
    let (bench, m) = prepare_benchmark(&exp, &exp_path, &out, &multi).unwrap();
    let bad = damage(&bench, &m, 0);
    let build = |cfg: &PipelineConfig| {
        Pipeline::<B>::new(cfg.clone(), &Default::default()).map_err(|e| e.to_string())
    };
    let g = run_grid(&exp, &exp_path, &bench, &m, "random", build, &multi).unwrap();
    assert_eq!(g.ran.len(), 1, "{g:?}");
    assert!(g.failed.is_empty(), "{g:?}");
    let row = &g.rows[0];
    assert_eq!((row.n, row.skipped), (2, 1));
    let cell = out.join("cells").join(&row.cell);
    let scores: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cell.join("scores.json")).unwrap()).unwrap();
    let correct = scores["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["correct"] == true)
        .count();
    assert_eq!(
        row.accuracy,
        Some(correct as f64 / 3.0),
        "skipped counts as wrong"
    );
    assert_eq!(scores["skipped"].as_array().unwrap().len(), 1);
    let log = read_log(&cell.join("skipped.jsonl"));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].video, bad);
    // The recorded run comes from the first question that scored.
    assert!(cell.join("retention.json").exists());
}
