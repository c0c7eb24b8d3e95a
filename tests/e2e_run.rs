//! End to end: `hico run` on a real H.264 file made by the ffmpeg CLI, with the tiny config.
//! Checks that the stage token counts in the run directory follow from the config.

use std::{path::Path, process::Command};

fn make_video(path: &Path, seconds: u32, fps: u32) {
    let status = Command::new("ffmpeg")
        .args(["-y", "-loglevel", "error", "-f", "lavfi", "-i"])
        .arg(format!(
            "testsrc2=size=160x120:rate={fps}:duration={seconds}"
        ))
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12"])
        .arg(path)
        .status()
        .expect("ffmpeg CLI is installed (scripts/setup.sh)");
    assert!(status.success());
}

fn hico() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hico"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn tiny_run_on_real_video_counts_follow_config() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    make_video(&video, 10, 10); // 100 frames, 10 s
    let out = dir.path().join("run");
    let res = hico()
        .current_dir(root())
        .args([
            "run",
            "--config",
            "configs/tiny.toml",
            "--question",
            "What colour is the ball?",
        ])
        .arg("--video")
        .arg(&video)
        .arg("--out")
        .arg(&out)
        .args(["--capture", "1,2"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(stdout.contains("answer token ids:"), "{stdout}");

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let c = &summary["counts"];
    let n = |k: &str| c[k].as_u64().unwrap() as usize;

    // configs/tiny.toml: duration sampler t_min 8, t_max 16, clip_len 4; 10 s video ->
    // T = 4·⌊10/4⌋ = 8, clamped to [8, 16] -> 8 frames, 2 clips.
    let t = 8;
    assert_eq!(n("frames"), t);
    assert_eq!(n("clips"), t / 4);
    // 64 px / 16 px patches: 16 patches per frame.
    assert_eq!(n("encoder_tokens"), t * 16);
    // tome, 4 tokens per frame.
    let v = t * 4;
    assert_eq!(n("compressed_tokens"), v);
    assert_eq!(n("connector_tokens"), v);
    // uniform0_attention, layers [1, 3], ratios [1, .5, .25]; 4 decoder layers.
    let per_layer: Vec<usize> = c["visual_per_layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    assert_eq!(per_layer, vec![v, v / 2, v / 2, v / 4]);
    let seq: Vec<usize> = c["seq_len_per_layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect();
    let text = n("prompt_tokens");
    assert_eq!(seq, per_layer.iter().map(|p| p + text).collect::<Vec<_>>());

    // The run directory holds everything `hico plot` reads.
    for f in [
        "config.json",
        "provenance.json",
        "retention.json",
        "ledger.json",
        "attention.json",
    ] {
        assert!(out.join(f).is_file(), "missing {f}");
    }
    let answer_tokens = summary["answer_tokens"].as_array().unwrap();
    assert!(
        !answer_tokens.is_empty() && answer_tokens.len() <= 8,
        "{answer_tokens:?}"
    );
}

#[test]
fn config_check_reports_typos() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let tiny = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    std::fs::write(&bad, tiny.replace("kind = \"tome\"", "kind = \"tomee\"")).unwrap();
    let res = hico().args(["config", "check"]).arg(&bad).output().unwrap();
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("compressor.kind") && err.contains("tomee"),
        "{err}"
    );

    let ok = hico()
        .current_dir(root())
        .args(["config", "check", "configs/tiny.toml"])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
}

#[test]
fn device_not_compiled_in_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let res = hico()
        .current_dir(root())
        .args([
            "--device",
            "cuda",
            "run",
            "--config",
            "configs/tiny.toml",
            "--video",
            "x.mp4",
            "--question",
            "q",
        ])
        .output()
        .unwrap();
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains("built without CUDA") && err.contains("--features cuda"),
        "{err}"
    );
}

#[test]
fn missing_video_names_the_file() {
    let res = hico()
        .current_dir(root())
        .args([
            "run",
            "--config",
            "configs/tiny.toml",
            "--video",
            "no/such/video.mp4",
            "--question",
            "q",
        ])
        .output()
        .unwrap();
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(err.contains("no/such/video.mp4"), "{err}");
}

#[test]
fn encode_writes_a_valid_provenance_map() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    make_video(&video, 6, 8); // 48 frames, 6 s -> 8 frames (t_min) in 2 clips
    let prov = dir.path().join("prov.json");
    let res = hico()
        .current_dir(root())
        .args(["encode", "--config", "configs/tiny.toml", "--video"])
        .arg(&video)
        .arg("--out")
        .arg(&prov)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&res.stdout);
    assert!(
        res.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&res.stderr)
    );
    assert!(
        stdout.contains("encoder: 128 tokens (4x4 patches per frame)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("compressor (tome): 32 tokens (4.0 per frame)"),
        "{stdout}"
    );
    let p: hico::core::Provenance =
        serde_json::from_str(&std::fs::read_to_string(&prov).unwrap()).unwrap();
    assert_eq!(p.tokens.len(), 32);
    p.validate().unwrap();
}
