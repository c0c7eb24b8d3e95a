//! `[video] resize = "pil_bicubic"` is Pillow's `BICUBIC`, bit for bit:
//! - on generated images (noise and ramps; shrinking, enlarging, odd, non-square, portrait
//!   and single-pixel sizes, 1 and 3 channels) against `Image.resize` results of Pillow
//!   11.3 (the release's pass order) and 13.0 (scripts/make_resize_fixtures.py);
//! - end to end on real encoded videos (4:2:0 untagged, BT.709-tagged, full range, 4:4:4, portrait):
//!   `FrameReader` with `pil_bicubic` returns what Pillow 11 makes of the ffmpeg CLI's
//!   `-pix_fmt rgb24` frames (scripts/make_video_resize_fixtures.py), and its RGB
//!   conversion is the CLI's, byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

use hico_core::config::ResizeKind;
use hico_video::{FrameReader, PassOrder, pil_bicubic};
use serde_json::Value;
use sha2::{Digest, Sha256};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn sha(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn u(v: &Value, key: &str) -> usize {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}")) as usize
}

/// splitmix64 over the counter `seed + (k + 1)·φ`, top byte (the fixture script's "noise").
fn noise(n: usize, seed: u64) -> Vec<u8> {
    (1..=n as u64)
        .map(|k| {
            let mut z = seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 56) as u8
        })
        .collect()
}

/// Ramps with seams (the fixture script's "smooth").
fn smooth(w: usize, h: usize, ch: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(w * h * ch);
    for y in 0..h {
        for x in 0..w {
            for c in 0..ch {
                let v = x * 511 / (w - 1).max(1) + y * 255 / (h - 1).max(1) + 85 * c;
                out.push((v % 256) as u8);
            }
        }
    }
    out
}

fn check_generated(fixture: &str, order: PassOrder) {
    let fx = json(&fixtures().join(fixture));
    let cases = fx["cases"].as_array().expect("cases");
    assert!(cases.len() >= 20);
    for case in cases {
        let (w, h, ch) = (u(case, "width"), u(case, "height"), u(case, "channels"));
        let (ow, oh) = (u(case, "out_width"), u(case, "out_height"));
        let src = match case["kind"].as_str() {
            Some("noise") => noise(w * h * ch, case["seed"].as_u64().expect("seed")),
            Some("smooth") => smooth(w, h, ch),
            other => panic!("unknown kind {other:?}"),
        };
        let got = pil_bicubic(&src, w, h, ch, ow, oh, order);
        let what = format!("{fixture}: {} {w}×{h}×{ch} → {ow}×{oh}", case["kind"]);
        assert_eq!(got.len(), ow * oh * ch, "{what}");
        if let Some(bytes) = case["bytes"].as_str() {
            assert_eq!(hex(&got), bytes, "{what}");
        }
        let head = case["head"].as_str().expect("head");
        assert_eq!(hex(&got[..got.len().min(48)]), head, "{what}: first bytes");
        assert_eq!(
            sha(&got),
            case["sha256"].as_str().expect("sha256"),
            "{what}"
        );
    }
}

#[test]
fn generated_images_equal_pillow_11() {
    check_generated("pil_bicubic_pillow11.json", PassOrder::HorizontalFirst);
}

#[test]
fn generated_images_equal_pillow_13() {
    check_generated("pil_bicubic_pillow13.json", PassOrder::Pillow13);
}

#[test]
fn pass_orders_differ_only_where_pillow_13_goes_vertical_first() {
    // Both fixtures hold the same inputs; the outputs differ exactly on the cases whose
    // height shrinks by more than twice what the width does.
    let a = json(&fixtures().join("pil_bicubic_pillow11.json"));
    let b = json(&fixtures().join("pil_bicubic_pillow13.json"));
    let (a, b) = (
        a["cases"].as_array().unwrap(),
        b["cases"].as_array().unwrap(),
    );
    assert_eq!(a.len(), b.len());
    let mut differing = 0;
    for (x, y) in a.iter().zip(b) {
        let dh = u(x, "height") as i64 - u(x, "out_height") as i64;
        let dw = u(x, "width") as i64 - u(x, "out_width") as i64;
        let vertical_first = dh > 0 && dh > 2 * dw;
        if x["sha256"] != y["sha256"] {
            assert!(vertical_first, "{x}");
            differing += 1;
        }
    }
    assert!(differing >= 4, "{differing}");
}

/// All frames of `path` as the ffmpeg CLI converts them to RGB24 at their own size.
fn cli_rgb(path: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg CLI");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn decoded_frames_equal_pillow_on_ffmpeg_rgb() {
    let dir = fixtures().join("video");
    let manifest = json(&dir.join("manifest.json"));
    let sizes: Vec<usize> = manifest["sizes"]
        .as_array()
        .expect("sizes")
        .iter()
        .map(|s| s.as_u64().expect("size") as usize)
        .collect();
    for video in manifest["videos"].as_array().expect("videos") {
        let path = dir.join(video["file"].as_str().expect("file"));
        let (w, h) = (u(video, "width"), u(video, "height"));
        let frame_bytes = w * h * 3;
        let all = cli_rgb(&path);
        assert_eq!(all.len(), u(video, "frames") * frame_bytes, "{path:?}");
        let picks = video["picks"].as_array().expect("picks");
        let indices: Vec<usize> = picks.iter().map(|p| u(p, "index")).collect();
        let mut reader = FrameReader::open(&path).expect("open");
        reader.set_resize(ResizeKind::PilBicubic);
        for &size in &sizes {
            let frames = reader.read(&indices, size).expect("read");
            for (k, pick) in picks.iter().enumerate() {
                let i = u(pick, "index");
                let rgb = &all[i * frame_bytes..(i + 1) * frame_bytes];
                let what = format!("{path:?} frame {i} at {size}");
                // This machine's FFmpeg converts as the fixture's did.
                assert_eq!(
                    sha(rgb),
                    pick["rgb_sha256"].as_str().expect("rgb"),
                    "{what}"
                );
                let want = pick["resized_sha256"][size.to_string()]
                    .as_str()
                    .expect("resized");
                let ours = pil_bicubic(rgb, w, h, 3, size, size, PassOrder::HorizontalFirst);
                assert_eq!(sha(&ours), want, "{what}");
                assert_eq!(sha(frames.frame(k)), want, "{what}: FrameReader");
            }
        }
        if w == h {
            // At the native size the output is the RGB conversion itself.
            let frames = reader.read(&indices, w).expect("read");
            for (k, &i) in indices.iter().enumerate() {
                let rgb = &all[i * frame_bytes..(i + 1) * frame_bytes];
                assert!(frames.frame(k) == rgb, "{path:?} frame {i}: RGB conversion");
            }
        }
    }
}
