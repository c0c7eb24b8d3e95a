//! End to end: `hico eval` on every public benchmark's fixture (the annotation files in their
//! published layout, from `scripts/make_benchmark_fixtures.py`) with real media made here by
//! the ffmpeg CLI (videos, and JPEG frame folders where a task reads frames), through the tiny
//! release-format model of `crates/hico-model/tests/fixtures/release_224`. Then the run is
//! resumed, compared with itself, and split in two shards that merge back into the same
//! predictions.

use std::path::{Path, PathBuf};

mod common;

use common::{ffmpeg, hico, ok, root};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The fixture of `task` with its media made real: one short video copied to every video
/// path, eight JPEG frames in every frame folder.
fn with_media(task: &str, media: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let fixture = root()
        .join("crates/hico-benchmarks/tests/fixtures")
        .join(task);
    copy_dir(&fixture, tmp.path());
    let list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("media.json")).unwrap())
            .unwrap();
    for f in list["files"].as_array().unwrap() {
        let p = tmp.path().join(f.as_str().unwrap());
        if p.exists() {
            continue; // subtitles ship with the fixture
        }
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::copy(media.join("clip.mp4"), p).unwrap();
    }
    for d in list["frame_dirs"].as_array().unwrap() {
        copy_dir(&media.join("frames"), &tmp.path().join(d.as_str().unwrap()));
    }
    tmp
}

fn eval(task: &str, data: &Path, out: &Path, extra: &[&str]) -> String {
    ok(&hico()
        .current_dir(root())
        .args([
            "eval",
            task,
            "--model",
            "crates/hico-model/tests/fixtures/release_224",
        ])
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .args(["--max-frames", "8"])
        .args(extra)
        .output()
        .unwrap())
}

fn lines(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("predictions.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The media every fixture path gets: `clip.mp4` (3 s, 8 fps H.264) and `frames/` (8 JPEGs).
fn media() -> tempfile::TempDir {
    let media = tempfile::tempdir().unwrap();
    ffmpeg(
        &[
            "testsrc2=size=96x64:rate=8:duration=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
        ],
        &media.path().join("clip.mp4"),
    );
    std::fs::create_dir_all(media.path().join("frames")).unwrap();
    ffmpeg(
        &["testsrc2=size=96x64:rate=4:duration=2"],
        &media.path().join("frames/frame_%d.jpg"),
    );
    media
}

#[test]
fn every_public_benchmark_runs_end_to_end_on_its_fixture() {
    let media = media();
    let tasks = [
        "videomme",
        "videomme_w_subtitle",
        "mvbench",
        "mlvu_mc",
        "longvideobench_val_v",
        "lvbench",
        "perceptiontest_val_mc",
    ];
    for task in tasks {
        let fixture = if task == "videomme_w_subtitle" {
            "videomme"
        } else {
            task
        };
        let data = with_media(fixture, media.path());
        let out = data.path().join("run");
        eval(task, data.path(), &out, &["--limit", "3"]);
        let results: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap())
                .unwrap();
        assert_eq!(results["task"], task, "{results}");
        assert_eq!(results["n"], 3, "{task}: {results}");
        assert!(
            results["score"].is_number() && results["groups"].is_array(),
            "{results}"
        );
        let preds = lines(&out);
        assert_eq!(preds.len(), 3, "{task}");
        for p in &preds {
            assert!(p["frames"].as_u64().unwrap() > 0, "{task}: {p}");
            assert!(p["visual_tokens"].as_u64().unwrap() > 0, "{task}: {p}");
            assert!(!p["prompt"].as_str().unwrap().is_empty(), "{task}: {p}");
        }
        assert!(out.join("results.md").exists());

        if task == "mvbench" {
            // A rerun resumes: nothing is answered again.
            let again = eval(task, data.path(), &out, &["--limit", "3"]);
            assert!(again.contains("0 answered now, 3 resumed"), "{again}");
            // A run compared with itself: every pair concordant.
            let cmp = ok(&hico()
                .arg("eval")
                .arg("compare")
                .arg(&out)
                .arg(&out)
                .output()
                .unwrap());
            assert!(cmp.contains("| all | all | 3 |"), "{cmp}");
            // Two shards merge back into the same predictions.
            let (s0, s1) = (data.path().join("s0"), data.path().join("s1"));
            eval(task, data.path(), &s0, &["--limit", "2", "--shard", "0/2"]);
            eval(task, data.path(), &s1, &["--limit", "2", "--shard", "1/2"]);
            let merged: PathBuf = data.path().join("merged");
            ok(&hico()
                .args(["eval", "merge"])
                .arg(&s0)
                .arg(&s1)
                .arg("--out")
                .arg(&merged)
                .output()
                .unwrap());
            let mut ids: Vec<String> = lines(&merged)
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect();
            ids.sort();
            assert_eq!(ids.len(), 4, "{ids:?}");
            ids.dedup();
            assert_eq!(ids.len(), 4, "shards overlap: {ids:?}");
        }
    }
}

/// `hico ablate` with a public benchmark as its benchmark: the grid's cells run `hico eval`'s
/// path on the same questions, `[[paired]]` claims get McNemar tests.
#[test]
fn an_ablation_grid_runs_on_a_public_benchmark() {
    let media = media();
    let data = with_media("mvbench", media.path());
    let base = data.path().join("base.toml");
    std::fs::write(
        &base,
        format!(
            "[model]\nkind = \"videochat_flash\"\npath = {:?}\n",
            root().join("crates/hico-model/tests/fixtures/release_224")
        ),
    )
    .unwrap();
    let out = data.path().join("ablation");
    let exp = data.path().join("exp.toml");
    std::fs::write(
        &exp,
        format!(
            "name = \"public\"\nbase = {base:?}\nout = {out:?}\n\
             [benchmark]\nkind = \"mvbench\"\ndata = {:?}\nlimit = 3\nmax_frames = 8\n\
             [grid]\n\"video_compressor\" = [{{ kind = \"none\" }}, {{ kind = \"random\", retention_ratio = 0.5 }}]\n\
             [[paired]]\nclaim = \"all tokens beat half of them\"\na = \"none\"\nb = \"random-0.5\"\n",
            data.path()
        ),
    )
    .unwrap();
    let stdout = ok(&hico().arg("ablate").arg(&exp).output().unwrap());
    assert!(stdout.contains("Paired comparisons"), "{stdout}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows[1].starts_with("none,") && rows[2].starts_with("random-0.5,"),
        "{csv}"
    );
    let tokens = |row: &str| row.rsplit(',').next().unwrap().parse::<f64>().unwrap();
    assert!(
        (tokens(rows[2]) - tokens(rows[1]) / 2.0).abs() < 1.0,
        "{csv}"
    );
    let paired: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("paired.json")).unwrap()).unwrap();
    assert_eq!(paired[0][1]["n"], 3, "{paired}");
    assert_eq!(lines(&out.join("cells/random-0.5")).len(), 3);
}
