//! What docs/reliability.md claims about reproducibility, end to end on the tiny synthetic
//! stage: `hico train` run again, run on one thread, and run with `HICO_KERNEL_ISA=avx2`
//! (hico's kernels and the gemm crate's AVX2 + FMA kernels, as on a CPU without AVX-512)
//! gives the same loss at every step and the same trained LLM weights, bit for bit. On a
//! CPU without AVX-512 the default already is AVX2 and the comparison is trivially true.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

const STEPS: usize = 12;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A stage on the synthetic dataset in `dir`: a batch of 2, no progress lines.
fn setup(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_hico"))
            .current_dir(root())
            .args(["train", "--make-synth"])
            .arg(&data),
        "make-synth",
    );
    let mut toml = std::fs::read_to_string(root().join("configs/train/tiny_synth.toml")).unwrap();
    for (from, to) in [
        ("batch_size = 1", "batch_size = 2".to_string()),
        ("progress = true", "progress = false".to_string()),
        (
            "annotations = \"data/tiny_synth/train.json\"",
            format!("annotations = {:?}", data.join("train.json")),
        ),
        (
            "video_root = \"data/tiny_synth\"",
            format!("video_root = {:?}", data),
        ),
    ] {
        assert!(
            toml.contains(from),
            "tiny_synth.toml no longer has `{from}`"
        );
        toml = toml.replace(from, &to);
    }
    let stage = dir.join("stage.toml");
    std::fs::write(&stage, toml).unwrap();
    stage
}

fn run_ok(c: &mut Command, what: &str) {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{what}: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Train `STEPS` steps into `out` with extra environment `env`; the loss of every step (as
/// written, the shortest decimal of the f32) and the final LLM weights' bytes.
fn train(stage: &Path, out: &Path, env: &[(&str, &str)]) -> (Vec<String>, Vec<u8>) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hico"));
    c.current_dir(root())
        .env_remove("HICO_KERNEL_ISA")
        .env_remove("RAYON_NUM_THREADS")
        .args(["train", "--config"])
        .arg(stage)
        .arg("--out")
        .arg(out)
        .args(["--max-steps", &STEPS.to_string()]);
    for (k, v) in env {
        c.env(k, v);
    }
    run_ok(&mut c, &format!("train with {env:?}"));
    let losses = std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["loss"].to_string()
        })
        .collect::<Vec<_>>();
    assert_eq!(losses.len(), STEPS);
    let weights = std::fs::read(out.join("final/llm_hf/model.safetensors")).unwrap();
    (losses, weights)
}

#[test]
fn training_gives_the_same_bits_again_on_one_thread_and_with_avx2_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let stage = setup(dir.path());
    let reference = train(&stage, &dir.path().join("a"), &[]);
    for (name, env) in [
        ("again", &[][..]),
        ("one thread", &[("RAYON_NUM_THREADS", "1")][..]),
        ("HICO_KERNEL_ISA=avx2", &[("HICO_KERNEL_ISA", "avx2")][..]),
    ] {
        let got = train(&stage, &dir.path().join(name.replace([' ', '='], "_")), env);
        assert_eq!(got.0, reference.0, "{name}: losses differ");
        assert!(got.1 == reference.1, "{name}: trained weights differ");
    }
}
