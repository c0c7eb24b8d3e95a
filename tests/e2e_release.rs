//! End to end: `hico run --model DIR` on a release-format directory (the 224-px fixture made
//! with the official code), alone and with a config whose sections override the release's.
//! Checks the stage counts the release's recipe implies.

use std::{path::Path, process::Command};

fn hico() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hico"))
}

fn fixtures() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/crates/hico-model/tests/fixtures"
    ))
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn run_with_model_uses_the_release_recipe() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let cfg = dir.path().join("greedy.toml");
    // The weightless sections of a config override the release's.
    std::fs::write(
        &cfg,
        "[generation]\ntemperature = 0.0\nmax_new_tokens = 4\n[compressor]\nkind = \"pool\"\ntokens_per_frame = 4\n",
    )
    .unwrap();
    let res = hico()
        .args(["run", "--question", "What is moving in the video?"])
        .arg("--model")
        .arg(fixtures().join("release_224"))
        .arg("--config")
        .arg(&cfg)
        .arg("--video")
        .arg(fixtures().join("release_video.mp4"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    let s = summary(&out);
    let n = |k: &str| s["counts"][k].as_u64().unwrap();
    // dynamic_fps on 100 frames at 5 fps: at least 64 frames; clips of mm_local_num_frames 4;
    // 224 px, 16 px patches; pool to 4 per frame (the override).
    assert_eq!(n("frames"), 64);
    assert_eq!(n("clips"), 16);
    assert_eq!(n("encoder_tokens"), 64 * 196);
    assert_eq!(n("compressed_tokens"), 64 * 4);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["model"]["kind"], "videochat_flash");
    assert_eq!(config["video"]["resize"], "pil_bicubic");
    assert_eq!(config["generation"]["repetition_penalty"], 1.05);

    // A refused value names the key and the value.
    let bad = dir.path().join("bad");
    std::fs::create_dir_all(&bad).unwrap();
    let text = std::fs::read_to_string(fixtures().join("release_224/config.json")).unwrap();
    std::fs::write(
        bad.join("config.json"),
        text.replace("\"nothing\"", "\"one_token\""),
    )
    .unwrap();
    let res = hico()
        .args(["encode", "--model"])
        .arg(&bad)
        .arg("--video")
        .arg(fixtures().join("release_video.mp4"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(
        stderr.contains("mm_newline_position") && stderr.contains("one_token"),
        "{stderr}"
    );
}

/// `hico release random` with the built-in byte-level tokenizer writes it as the release's
/// tokenizer.json, and the directory loads as a released model; a shape the release format
/// cannot hold is refused by name.
#[test]
fn random_release_with_the_built_in_tokenizer_loads() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let base = std::fs::read_to_string(root.join("configs/tiny.toml")).unwrap();
    let refused = hico()
        .args(["release", "random", "--config"])
        .arg(root.join("configs/tiny.toml"))
        .arg("--out")
        .arg(dir.path().join("no"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && err.contains("video.size"),
        "{err}"
    );
    let cfg = base
        .replace("size = 64 ", "size = 224 ")
        .replace("pos_grid = 4", "pos_grid = 14")
        .replace("tokens_per_frame = 4", "tokens_per_frame = 16");
    assert!(cfg.contains("size = 224") && cfg.contains("tokens_per_frame = 16"));
    let path = dir.path().join("tiny224.toml");
    std::fs::write(&path, cfg).unwrap();
    let out = dir.path().join("release");
    let res = hico()
        .args(["release", "random", "--config"])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        res.status.success(),
        "{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(out.join("tokenizer.json").exists());
    let load = hico()
        .args(["release", "load", "--model"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        load.status.success(),
        "{}",
        String::from_utf8_lossy(&load.stderr)
    );
}
