//! A two-phase curriculum through `ensure_trained` on the tiny pipeline: every phase trains
//! on its own generated set in its own folder, the main phase starts from the curriculum's
//! weights, and a second call reuses every cached phase without training again.

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use hico_eval::ablate::{Experiment, ensure_trained};
use indicatif::MultiProgress;

type B = Autodiff<Flex>;

#[test]
fn curriculum_phases_train_in_order_and_are_cached() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage.toml");
    std::fs::write(
        &stage,
        format!(
            "name = \"c\"\npipeline = {:?}\nepochs = 1\nbatch_size = 1\nmax_length = 1024\n\
             [lr]\nllm = 1e-3\n[frames]\nt_min = 4\nt_max = 4\n\
             [data]\nannotations = \"replaced.json\"\nworkers = 1\n\
             [checkpoint]\nevery = 100\nkeep = 1\n",
            root.join("configs/tiny.toml")
        ),
    )
    .unwrap();
    let exp_path = dir.path().join("exp.toml");
    std::fs::write(
        &exp_path,
        format!(
            "name = \"c\"\nbase = {:?}\n[overrides]\n\"dropout\" = {{ kind = \"none\" }}\n\
             [benchmark]\nkind = \"object\"\nframes = [4]\ndepths = [0.0]\nrepeats = 1\nseed = 1\n\
             [train]\nstage = {:?}\ndata_repeats = 2\n\
             [[train.curriculum]]\nname = \"big\"\ndata_repeats = 1\nepochs = 2\n\
             benchmark_overrides = {{ object_size = 32 }}\n\
             [grid]\n\"dropout\" = [{{ kind = \"none\" }}]\n",
            root.join("configs/tiny.toml"),
            stage
        ),
    )
    .unwrap();
    let exp = Experiment::load(&exp_path).unwrap();
    let out = dir.path().join("out");
    let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let device = Default::default();
    let t = ensure_trained::<B>(&exp, &exp_path, &out, 0, &multi, &device)
        .unwrap()
        .unwrap();
    // The phase: one question, two epochs; the main phase: two questions, one epoch.
    let phase: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("curriculum/big/train/trained.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(phase["steps"], 2);
    assert_eq!(phase["samples"], 1);
    assert_eq!((t.steps, t.samples), (2, 2));
    assert!(out.join("curriculum/big/data/llava.json").exists());
    // The main phase is keyed by the phase it started from.
    assert_eq!(t.key["init"], phase["key"]);
    let marker = out.join("train/trained.json");
    let written = std::fs::metadata(&marker).unwrap().modified().unwrap();
    let again = ensure_trained::<B>(&exp, &exp_path, &out, 0, &multi, &device)
        .unwrap()
        .unwrap();
    assert_eq!(again, t);
    assert_eq!(
        std::fs::metadata(&marker).unwrap().modified().unwrap(),
        written,
        "a cached main phase was trained again"
    );
}
