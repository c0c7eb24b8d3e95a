//! End to end: `hico compress` on token files (the contract of docs/compression.md), and the
//! `[video_compressor]` slot inside `hico run` on a real H.264 file (the tiny config with
//! every patch kept per clip, so the slot sees frames of 4 × 4 tokens).

use std::collections::HashMap;
use std::path::Path;
use std::process::Output;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

mod common;

use common::{failed, hico, ok, root};

/// Write `tensors` (name, shape, values) as f32 safetensors.
fn write_f32(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(&str, TensorView)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            (
                *name,
                TensorView::new(Dtype::F32, shape.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(
        path,
        safetensors::serialize(views, &None::<HashMap<String, String>>).unwrap(),
    )
    .unwrap();
}

fn compress(dir: &Path, table: &str, input: &Path) -> Output {
    let m = dir.join("m.toml");
    std::fs::write(&m, format!("[compressor]\n{table}\n")).unwrap();
    hico()
        .arg("compress")
        .arg("--compressor")
        .arg(&m)
        .arg("--tokens")
        .arg(input)
        .arg("--out")
        .arg(dir.join("out.safetensors"))
        .output()
        .unwrap()
}

#[test]
fn compress_keeps_rows_of_the_input_and_names_bad_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let (t, n, c) = (4, 16, 8);
    let x: Vec<f32> = (0..t * n * c).map(|i| (i as f32 * 0.37).sin()).collect();
    let input = dir.path().join("in.safetensors");
    write_f32(&input, &[("tokens", vec![t, n, c], x.clone())]);

    let line = ok(&compress(
        dir.path(),
        "kind = \"random\"\nretention_ratio = 0.5\nseed = 7",
        &input,
    ));
    let summary: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(summary["tokens_out"], 32);
    let bytes = std::fs::read(dir.path().join("out.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let tokens = st.tensor("tokens").unwrap();
    assert_eq!(tokens.shape(), [32, c]);
    let source: Vec<i64> = st
        .tensor("source")
        .unwrap()
        .data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert!(source.windows(2).all(|w| w[0] < w[1]), "{source:?}");
    let out: Vec<f32> = tokens
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    for (j, &s) in source.iter().enumerate() {
        let s = s as usize;
        assert_eq!(&out[j * c..(j + 1) * c], &x[s * c..(s + 1) * c]);
    }

    // A method that reads the encoder's attention, without it.
    let err = failed(&compress(dir.path(), "kind = \"visionzip\"", &input));
    assert!(err.contains("attention"), "{err}");
    // A key the method does not have.
    let err = failed(&compress(
        dir.path(),
        "kind = \"random\"\nratio = 0.5",
        &input,
    ));
    assert!(err.contains("ratio") && err.contains("m.toml"), "{err}");
    // A grid method on frames that are not square.
    let odd = dir.path().join("odd.safetensors");
    write_f32(&odd, &[("tokens", vec![2, 15, 4], vec![0.5; 120])]);
    let err = failed(&compress(dir.path(), "kind = \"downsample\"", &odd));
    assert!(err.contains("square"), "{err}");
    // Tokens of the wrong rank.
    let flat = dir.path().join("flat.safetensors");
    write_f32(&flat, &[("tokens", vec![16, 4], vec![0.5; 64])]);
    let err = failed(&compress(dir.path(), "kind = \"random\"", &flat));
    assert!(
        err.contains("`tokens`") && err.contains("[T, N, C]"),
        "{err}"
    );
}

/// configs/tiny.toml with every patch kept per clip, `slot` as its `[video_compressor]` and
/// burn's fused attention when `fused`.
fn tiny_with(dir: &Path, slot: &str, fused: bool) -> std::path::PathBuf {
    let base = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let cfg = base.replace(
        "[compressor]\nkind = \"tome\"\ntokens_per_frame = 4",
        "[compressor]\nkind = \"identity\"",
    );
    assert_ne!(
        cfg, base,
        "configs/tiny.toml's [compressor] changed: update this test"
    );
    let cfg = if fused {
        let with = cfg.replace(
            "tokenizer = \"byte_level\"",
            "tokenizer = \"byte_level\"\nattention = \"fused\"",
        );
        assert_ne!(
            with, cfg,
            "configs/tiny.toml's [llm] changed: update this test"
        );
        with
    } else {
        cfg
    };
    let path = dir.join("slot.toml");
    std::fs::write(&path, format!("{cfg}\n[video_compressor]\n{slot}\n")).unwrap();
    path
}

/// `hico run` of `cfg` on `video` into `out`: its stdout and `summary.json`.
fn run_tiny(cfg: &Path, video: &Path, out: &Path) -> (String, serde_json::Value) {
    let stdout = ok(&hico()
        .current_dir(root())
        .arg("run")
        .arg("--config")
        .arg(cfg)
        .args(["--question", "What colour is the ball?"])
        .arg("--video")
        .arg(video)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap());
    let summary =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    (stdout, summary)
}

#[test]
fn the_video_slot_runs_in_the_pipeline_and_its_provenance_follows() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    common::make_video(&video); // 10 s -> 8 frames of 4 x 4 patches: 128 tokens
    // VisionZip reads the attention the encoder's last block gives each patch; it runs with
    // burn's fused attention in the encoder and the LLM (the received attention is computed
    // on its own, a block of query rows at a time).
    for (slot, kept, fused) in [
        ("kind = \"random\"\nretention_ratio = 0.25", 32, false),
        (
            "kind = \"visionzip\"\ndominant = 3\ncontextual = 1",
            8 * 4,
            true,
        ),
    ] {
        let cfg = tiny_with(dir.path(), slot, fused);
        let out = dir.path().join("run");
        let (stdout, summary) = run_tiny(&cfg, &video, &out);
        assert!(stdout.contains("video compressor `"), "{stdout}");
        let slot = &summary["counts"]["video_slot"];
        assert_eq!(slot["tokens_in"], 128, "{summary}");
        assert_eq!(slot["tokens_out"], kept, "{summary}");
        let visual: Vec<u64> = summary["counts"]["visual_per_layer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(visual[0], kept as u64);
        let prov: hico_core::Provenance =
            serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
                .unwrap();
        assert_eq!(prov.tokens.len(), kept);
        prov.validate_at_most_once().unwrap();
    }
}

#[test]
fn a_grid_method_after_a_compressor_that_breaks_the_grid_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        format!("{base}\n[video_compressor]\nkind = \"downsample\"\ntokens_per_frame = 4\n"),
    )
    .unwrap();
    let err = failed(&hico().args(["config", "check"]).arg(&cfg).output().unwrap());
    assert!(
        err.contains("video_compressor.kind") && err.contains("tome"),
        "{err}"
    );
}

/// FrameFusion inside the LLM reads the frame layout the pipeline derives from the clip
/// compressor (`identity`: 8 frames of 16 tokens here); after `tome` it is refused by name.
#[test]
fn framefusion_runs_on_frame_grids_and_is_refused_without_them() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("clip.mp4");
    common::make_video(&video);
    let base = std::fs::read_to_string(root().join("configs/tiny.toml")).unwrap();
    let fusion = "[dropout]\nkind = \"framefusion\"\ncost = 0.5\nsimilarity_lower_bound = 0.5";
    let with_fusion = |text: &str| {
        let start = text.find("[dropout]").unwrap();
        let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
        format!("{}{fusion}{}", &text[..start], &text[end..])
    };
    let cfg = dir.path().join("fusion.toml");
    std::fs::write(
        &cfg,
        with_fusion(&base.replace(
            "[compressor]\nkind = \"tome\"\ntokens_per_frame = 4",
            "[compressor]\nkind = \"identity\"",
        )),
    )
    .unwrap();
    let (_, summary) = run_tiny(&cfg, &video, &dir.path().join("run"));
    let visual: Vec<u64> = summary["counts"]["visual_per_layer"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert!(visual.len() == 4 && visual[0] <= 128, "{visual:?}");
    assert!(visual.windows(2).all(|w| w[1] <= w[0]), "{visual:?}");
    // cost 0.5: on average over the 4 layers at most half of the 128 visual tokens remain.
    assert!(visual.iter().sum::<u64>() <= 4 * 64, "{visual:?}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, with_fusion(&base)).unwrap();
    let err = failed(&hico().args(["config", "check"]).arg(&bad).output().unwrap());
    assert!(
        err.contains("dropout.kind") && err.contains("tome"),
        "{err}"
    );
}
