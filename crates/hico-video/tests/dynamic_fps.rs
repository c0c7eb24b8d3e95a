//! The `dynamic_fps` sampler picks exactly the frames the released VideoChat-Flash `chat()`
//! picks: index lists made by running the release's own `get_frame_indices(...,
//! sample='dynamic_fps1')` (scripts/make_sampler_fixtures.py), over frame counts from 1 to
//! 899 999, integer and NTSC frame rates, rates below 1 fps, and several parameter sets.

use std::path::Path;

use hico_core::config::SamplerConfig;
use hico_video::{VideoInfo, build_sampler};
use serde_json::Value;

fn fixture() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/dynamic_fps.json");
    let text = std::fs::read_to_string(&path).expect("fixture");
    let json: Value = serde_json::from_str(&text).expect("fixture JSON");
    json["cases"].as_array().expect("cases").clone()
}

fn num(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn list(v: &Value, key: &str) -> Vec<usize> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key}"))
        .iter()
        .map(|x| x.as_u64().expect("index") as usize)
        .collect()
}

#[test]
fn indices_equal_the_release_function() {
    let cases = fixture();
    assert!(cases.len() > 900, "{} cases", cases.len());
    let mut long = 0;
    for case in &cases {
        let n = num(case, "vlen") as usize;
        let fps = num(case, "fps_num") as f64 / num(case, "fps_den") as f64;
        let max = num(case, "max_frames");
        let cfg = SamplerConfig::DynamicFps {
            min_frames: num(case, "min_frames") as usize,
            max_frames: max.max(0) as usize, // the release's -1: no cap
            frame_multiple: num(case, "multiple") as usize,
        };
        let info = VideoInfo {
            n_frames: n,
            fps,
            duration: n as f64 / fps,
            width: 64,
            height: 64,
        };
        let got = build_sampler(&cfg, 4)
            .sample(&info)
            .expect("sample")
            .indices;
        let what = format!("{cfg:?}, {n} frames at {fps} fps");
        if case.get("indices").is_some() {
            assert_eq!(got, list(case, "indices"), "{what}");
            continue;
        }
        long += 1;
        let (head, tail) = (list(case, "head"), list(case, "tail"));
        assert_eq!(got.len(), num(case, "count") as usize, "{what}");
        assert_eq!(got[..head.len()], head[..], "{what}");
        assert_eq!(got[got.len() - tail.len()..], tail[..], "{what}");
        let sum: u64 = got.iter().map(|&i| i as u64).sum();
        let weighted: u64 = got
            .iter()
            .enumerate()
            .map(|(k, &i)| (k as u64 + 1) * i as u64)
            .sum();
        assert_eq!(sum, num(case, "sum") as u64, "{what}: sum");
        assert_eq!(
            weighted,
            num(case, "weighted_sum") as u64,
            "{what}: weighted sum"
        );
    }
    assert!(long > 100, "{long} long cases");
}
