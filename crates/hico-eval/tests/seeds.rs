//! The seeded runner end to end on the tiny pipeline: two training seeds, each trained into
//! its own `seed-<s>/` folder (other initialisation and training questions), every cell and
//! the drop-depth cells scored with each, the tables written over both (a `seed` column, a
//! paired claim per seed and combined, `depth_curve.csv` from 0 to the decoder's depth),
//! and a second run reusing everything.

use std::path::Path;

use burn::backend::{Autodiff, Flex};
use hico_eval::ablate::{Experiment, run_seeds};
use indicatif::MultiProgress;

type B = Autodiff<Flex>;

#[test]
fn two_seeds_train_two_models_and_score_every_cell_with_each() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let stage = dir.path().join("stage.toml");
    std::fs::write(
        &stage,
        format!(
            "name = \"s\"\npipeline = {:?}\nepochs = 1\nbatch_size = 1\nmax_length = 1024\n\
             [lr]\nllm = 1e-3\n[frames]\nt_min = 4\nt_max = 4\n\
             [data]\nannotations = \"replaced.json\"\nworkers = 1\n\
             [checkpoint]\nevery = 100\nkeep = 1\n",
            root.join("configs/tiny.toml")
        ),
    )
    .unwrap();
    let exp_path = dir.path().join("exp.toml");
    let out = dir.path().join("out");
    std::fs::write(
        &exp_path,
        format!(
            "name = \"s\"\nbase = {:?}\nout = {:?}\n\
             [overrides]\n\"dropout\" = {{ kind = \"none\" }}\n\
             \"sampler\" = {{ kind = \"duration\", t_min = 4, t_max = 4 }}\n\
             [benchmark]\nkind = \"object\"\nframes = [4]\ndepths = [0.0]\nrepeats = 3\nseed = 1\n\
             [train]\nstage = {:?}\ndata_repeats = 2\nseeds = [0, 5]\n\
             [grid]\n\"dropout\" = [{{ kind = \"none\" }}, \
             {{ kind = \"uniform\", layers = [1], ratios = [1.0, 0.25] }}]\n\
             [[paired]]\nclaim = \"none beats uniform\"\na = \"none\"\nb = \"uniform-1-1_0.25\"\n",
            root.join("configs/tiny.toml"),
            out,
            stage
        ),
    )
    .unwrap();
    let exp = Experiment::load(&exp_path).unwrap();
    let multi = MultiProgress::with_draw_target(indicatif::ProgressDrawTarget::hidden());
    let device = Default::default();
    let first = run_seeds::<B>(&exp, &exp_path, &multi, &device).unwrap();
    // 2 grid cells + 5 depth cells (a 4-layer decoder: 0..=4 layers seen), per seed.
    assert_eq!(first.ran.len(), 14, "{:?}", first.ran);
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    for s in [0, 5] {
        let m = out.join(format!("seed-{s}"));
        assert!(m.join("train/trained.json").exists());
        assert!(m.join("cells/none/scores.json").exists());
        assert!(m.join("depth/layers-0/scores.json").exists());
    }
    // Seed 5 trained on other questions from another initialisation.
    let key = |s: u64| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(out.join(format!("seed-{s}/train/trained.json"))).unwrap(),
        )
        .unwrap()
    };
    let (k0, k5) = (key(0)["key"].clone(), key(5)["key"].clone());
    assert_eq!(
        k5["data"]["seed"],
        k0["data"]["seed"].as_u64().unwrap() + 5000
    );
    assert_eq!(k5["base"]["seed"], k0["base"]["seed"].as_u64().unwrap() + 5);
    // One row per cell and seed.
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(csv.starts_with("cell,seed,"), "{csv}");
    assert_eq!(csv.lines().count(), 1 + 2 * 2);
    assert!(csv.lines().any(|l| l.starts_with("none,5,")));
    // The claim per seed and over the seeds.
    let paired: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("paired.json")).unwrap()).unwrap();
    assert_eq!(paired[0]["per_seed"].as_array().unwrap().len(), 2);
    assert!(paired[0]["combined"]["p_value"].as_f64().is_some());
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    for part in [
        "Accuracy per cell over the seeds",
        "Paired comparisons over the seeds",
        "Drop-depth curve",
    ] {
        assert!(md.contains(part), "results.md lacks {part}");
    }
    let depth = std::fs::read_to_string(out.join("depth_curve.csv")).unwrap();
    let lines: Vec<&str> = depth.lines().collect();
    assert_eq!(lines[0], "layers_seen,accuracy,n");
    assert_eq!(lines.len(), 1 + 5);
    // 3 questions per model, pooled over the two.
    assert!(
        lines[1].starts_with("0,") && lines[1].ends_with(",6"),
        "{depth}"
    );
    // A second run reuses both models and every cell.
    let again = run_seeds::<B>(&exp, &exp_path, &multi, &device).unwrap();
    assert!(again.ran.is_empty(), "{:?}", again.ran);
    assert_eq!(again.skipped.len(), 14);
}
