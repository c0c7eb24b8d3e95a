//! End to end on a tiny random pipeline: build a small NIAH set, score it, and run a
//! two-cell grid twice with one cell's `done.json` removed in between.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use hico_core::config::PipelineConfig;
use hico_eval::{
    ablate::{Experiment, prepare_benchmark, run_grid},
    bench::{BenchSpec, NiahSpec, build_set},
    score::{ScoreOptions, score_set},
};
use hico_model::Pipeline;
use indicatif::MultiProgress;

type B = Flex;

fn tiny_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tiny.toml")
}

fn niah(frames: Vec<usize>, repeats: usize) -> NiahSpec {
    NiahSpec {
        frames,
        depths: vec![0.0, 0.5, 1.0],
        repeats,
        size: 64,
        fps: 1.0,
        needle_frames: 4,
        shuffle_options: true,
        seed: 5,
        haystack: Default::default(),
    }
}

/// Serialises the tests of this binary: building a pipeline seeds burn's global CPU RNG and
/// draws random weights from it, so two tests building models at once interleave their draws
/// and a "same seed, same weights" comparison fails now and then.
fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn build_and_score_a_small_niah_set() {
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let spec = BenchSpec::Niah(niah(vec![16], 2));
    let m = build_set(&spec, "<test>".as_ref(), dir.path(), None).unwrap();
    assert_eq!(m.samples.len(), 6);
    let letters: std::collections::BTreeSet<&str> =
        m.samples.iter().map(|s| s.answer.as_str()).collect();
    assert!(
        letters.len() >= 2,
        "shuffled options put answers under several letters: {letters:?}"
    );
    let cfg = hico_model::load_config(&tiny_config()).unwrap();
    let pipe = Pipeline::<B>::new(cfg, &Default::default()).unwrap();
    let opts = ScoreOptions {
        free_form: true,
        capture_all_layers: true,
        max_skipped: None,
    };
    let s = score_set(&pipe, dir.path(), &m, opts, None, None).unwrap();
    assert!(s.skipped.is_empty());
    assert_eq!(s.samples.len(), 6);
    assert!((0.0..=1.0).contains(&s.accuracy));
    assert_eq!(s.predicted_counts.iter().sum::<usize>(), 6);
    let want = s.samples.iter().filter(|x| x.correct).count() as f64 / 6.0;
    assert_eq!(s.accuracy, want);
    assert_eq!(s.by_depth.len(), 3);
    assert!(
        s.by_depth
            .iter()
            .all(|c| c.n == 2 && (0.0..=1.0).contains(&c.accuracy))
    );
    assert!(s.exact_match.is_some_and(|e| (0.0..=1.0).contains(&e)));
    for x in &s.samples {
        assert!(x.letter_logits.iter().all(|l| l.is_finite()), "{}", x.id);
        assert!(x.visual_tokens > 0 && x.prefill_flops > 0.0);
        assert_eq!(x.sampled_frames, 16);
    }
    let run = s.first_run.expect("first question's run record");
    assert!(
        run.attention.is_some(),
        "attention captured on the recorded run"
    );
}

#[test]
fn rerunning_a_grid_skips_finished_cells() {
    let _guard = lock();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let exp_path = dir.path().join("exp.toml");
    let text = format!(
        "name = \"t\"\nbase = {:?}\nout = {:?}\n\
         [benchmark]\nkind = \"niah\"\nframes = [16]\ndepths = [0.0, 1.0]\nsize = 64\n\
         [grid]\n\"compressor\" = [{{ kind = \"tome\", tokens_per_frame = 4 }}, \
         {{ kind = \"pool\", tokens_per_frame = 4 }}]\n\
         \"dropout\" = [{{ kind = \"none\" }}, {{ kind = \"bogus\" }}]\n",
        tiny_config(),
        out
    );
    // A bad grid value names the experiment file and the key.
    std::fs::write(&exp_path, &text).unwrap();
    let exp = Experiment::load(&exp_path).unwrap();
    let err = exp.cells(&exp_path).unwrap_err().to_string();
    assert!(err.contains("exp.toml") && err.contains("dropout"), "{err}");

    std::fs::write(&exp_path, text.replace(", { kind = \"bogus\" }", "")).unwrap();
    let exp = Experiment::load(&exp_path).unwrap();
    let multi = MultiProgress::new();
    let (bench, m) = prepare_benchmark(&exp, &exp_path, &out, &multi).unwrap();
    let build = |cfg: &PipelineConfig| {
        Pipeline::<B>::new(cfg.clone(), &Default::default()).map_err(|e| e.to_string())
    };
    let first = run_grid(&exp, &exp_path, &bench, &m, "random", build, &multi).unwrap();
    assert_eq!(first.ran.len(), 2, "{first:?}");
    assert!(first.failed.is_empty() && first.skipped.is_empty());
    for f in ["results.csv", "results.md", "niah.csv", "experiment.json"] {
        assert!(out.join(f).exists(), "{f}");
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(
        header.starts_with("cell,seed,grid.compressor,grid.dropout,compressor,tokens_per_frame,dropout,accuracy,acc_low95,acc_high95,correct,n,skipped,"),
        "{header}"
    );
    assert_eq!(csv.lines().count(), 3);
    let cell = out.join("cells").join(&first.ran[1]);
    for f in [
        "config.json",
        "retention.json",
        "ledger.json",
        "scores.json",
        "done.json",
    ] {
        assert!(cell.join(f).exists(), "{f}");
    }
    std::fs::remove_file(cell.join("done.json")).unwrap();
    let second = run_grid(&exp, &exp_path, &bench, &m, "random", build, &multi).unwrap();
    assert_eq!(second.ran, vec![first.ran[1].clone()]);
    assert_eq!(second.skipped, vec![first.ran[0].clone()]);
    // Same seed, same weights: the re-run cell reproduces its accuracy.
    let acc =
        |g: &hico_eval::ablate::GridSummary| g.rows.iter().map(|r| r.accuracy).collect::<Vec<_>>();
    assert_eq!(acc(&second), acc(&first));
    // Another model: nothing counts as done.
    let third = run_grid(&exp, &exp_path, &bench, &m, "other", build, &multi).unwrap();
    assert_eq!(third.ran.len(), 2);
}
