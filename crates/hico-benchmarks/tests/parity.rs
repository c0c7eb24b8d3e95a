//! Parity with the official evaluation: `scripts/make_benchmark_fixtures.py` wrote a tiny
//! folder per benchmark in its published layout (`tests/fixtures/<task>/`) and, by running
//! the official `utils.py` functions of VideoChat-Flash's lmms-eval on it, `expected.json`:
//! every question's prompt (`doc_to_text`), gold letter and `max_new_tokens`, the official
//! verdict on each of a list of replies, and the official aggregation of several assignments
//! of replies to questions. hico must match the prompts byte for byte, the verdicts exactly
//! and the scores to 1e-9 (Video-MME's logged group scores to the logged `.1f`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hico_benchmarks::{Error, Parsed, Question, Task};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// A copy of the fixture folder with empty placeholders for its media (`media.json`).
fn with_media(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), tmp.path());
    let media: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(name).join("media.json")).unwrap())
            .unwrap();
    for f in media["files"].as_array().unwrap() {
        let p = tmp.path().join(f.as_str().unwrap());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }
    for d in media["frame_dirs"].as_array().unwrap() {
        std::fs::create_dir_all(tmp.path().join(d.as_str().unwrap())).unwrap();
    }
    tmp
}

fn expected(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture(name).join("expected.json")).unwrap())
        .unwrap()
}

fn first_diff(a: &str, b: &str) -> String {
    let i = a
        .bytes()
        .zip(b.bytes())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    format!(
        "first difference at byte {i}:\n  hico:     {:?}\n  official: {:?}",
        &a[a.floor_char_boundary(i.saturating_sub(20))..],
        &b[b.floor_char_boundary(i.saturating_sub(20))..]
    )
}

/// Checks prompts, gold, settings and verdicts; returns the questions and the replies.
fn check_questions(task: Task, dir: &str, key: &str) -> (Vec<Question>, Value, Vec<String>) {
    let tmp = with_media(dir);
    let qs = task
        .load(tmp.path())
        .unwrap_or_else(|e| panic!("{task}: {e}"));
    let exp = expected(dir);
    let replies: Vec<String> = exp["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let eq = exp[key]["questions"].as_array().unwrap();
    assert_eq!(qs.len(), eq.len(), "{task}: number of questions");
    for (q, e) in qs.iter().zip(eq) {
        assert_eq!(q.id, e["id"].as_str().unwrap(), "{task}: id");
        let want = e["prompt"].as_str().unwrap();
        assert!(
            q.prompt == want,
            "{task} {}: prompt differs, {}",
            q.id,
            first_diff(&q.prompt, want)
        );
        assert_eq!(q.gold, e["gold"].as_str().unwrap(), "{task} {}: gold", q.id);
        assert_eq!(
            task.settings().max_new_tokens as u64,
            e["settings"]["max_new_tokens"].as_u64().unwrap(),
            "{task}: max_new_tokens"
        );
        assert!(
            q.video.starts_with(tmp.path()) && q.video.exists(),
            "{task} {}: video {:?}",
            q.id,
            q.video
        );
        for (r, pe) in replies.iter().zip(e["parsed"].as_array().unwrap()) {
            let p = task.parse(q, r);
            let ctx = format!("{task} {} reply {r:?}: {p:?} vs official {pe}", q.id);
            assert_eq!(p.random, pe["random"].as_bool().unwrap(), "{ctx}");
            assert_eq!(p.correct, pe["correct"].as_bool().unwrap(), "{ctx}");
            assert_eq!(p.answered, pe["answered"].as_bool().unwrap(), "{ctx}");
            if let Some(a) = pe.get("answer") {
                assert_eq!(p.answer, a.as_str().unwrap(), "{ctx}");
            }
        }
    }
    let runs = exp[key]["runs"].clone();
    (qs, runs, replies)
}

fn run_parsed(task: Task, qs: &[Question], run: &Value, replies: &[String]) -> Vec<Parsed> {
    let idx = run["replies"].as_array().unwrap();
    qs.iter()
        .zip(idx)
        .map(|(q, i)| task.parse(q, &replies[i.as_u64().unwrap() as usize]))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn videomme_and_subtitles() {
    for (task, key) in [
        (Task::Videomme, "videomme"),
        (Task::VideommeWSubtitle, "videomme_w_subtitle"),
    ] {
        let (qs, runs, replies) = check_questions(task, "videomme", key);
        let kinds = [
            ("video Type", "duration"),
            ("Categories", "domain"),
            ("Video Sub Categories", "sub_category"),
            ("Task Categories", "task_type"),
        ];
        for run in runs.as_array().unwrap() {
            let parsed = run_parsed(task, &qs, run, &replies);
            let s = task.aggregate(qs.iter().zip(&parsed));
            assert!(
                close(s.score, run["score"].as_f64().unwrap()),
                "{task}: {} vs {}",
                s.score,
                run["score"]
            );
            let mut checked = 0;
            for (kind, field) in kinds {
                for g in s.groups.iter().filter(|g| g.field == field) {
                    let want = run["logged"][kind][&g.value]
                        .as_str()
                        .unwrap_or_else(|| panic!("{kind} {} not logged", g.value));
                    assert_eq!(
                        format!("{:.1}%", g.score),
                        want,
                        "{task} {field}={}",
                        g.value
                    );
                    checked += 1;
                }
            }
            assert!(checked >= 4 * 3);
        }
    }
    // Subtitles: the .srt with font tags is in the prompt, the one without any gives the
    // header only, a video without .srt gets none.
    let tmp = with_media("videomme");
    let qs = Task::VideommeWSubtitle.load(tmp.path()).unwrap();
    assert!(qs[0].prompt.starts_with("This video's subtitles are listed below: \nChristmas trees, apples & candles\nfirst\ndot is any char\nThese are the frames and subtitles"));
    assert!(qs[2].prompt.starts_with(
        "This video's subtitles are listed below: \n\nThese are the frames of a video."
    ));
    assert!(
        qs[4].subtitle.is_none()
            && qs[4]
                .prompt
                .starts_with("\nThese are the frames of a video.")
    );
}

fn check_subtasks(task: Task, dir: &str) {
    let (qs, runs, replies) = check_questions(task, dir, dir);
    for run in runs.as_array().unwrap() {
        let parsed = run_parsed(task, &qs, run, &replies);
        let s = task.aggregate(qs.iter().zip(&parsed));
        assert!(
            close(s.score, run["score"].as_f64().unwrap()),
            "{task}: {} vs {}",
            s.score,
            run["score"]
        );
        let want: BTreeMap<String, f64> = serde_json::from_value(run["groups"].clone()).unwrap();
        assert_eq!(s.groups.len(), want.len(), "{task}: groups");
        for g in &s.groups {
            assert!(
                close(g.score, want[&g.value]),
                "{task} {}: {} vs {}",
                g.value,
                g.score,
                want[&g.value]
            );
        }
    }
}

#[test]
fn mvbench() {
    check_subtasks(Task::Mvbench, "mvbench");
    let tmp = with_media("mvbench");
    let qs = Task::Mvbench.load(tmp.path()).unwrap();
    let er = qs.iter().find(|q| q.id == "episodic_reasoning/0").unwrap();
    assert_eq!(er.media.read, hico_benchmarks::Read::Frames { fps: 3.0 });
    assert_eq!(er.media.clip, Some((1.5, 17.1)));
    assert!(
        er.video
            .ends_with("video/tvqa/frames_fps3_hq/episodic_reasoning_0")
    );
    assert_eq!(qs[0].id, "action_sequence/0");
}

#[test]
fn mlvu_mc() {
    check_subtasks(Task::MlvuMc, "mlvu_mc");
}

#[test]
fn lvbench() {
    check_subtasks(Task::Lvbench, "lvbench");
}

#[test]
fn longvideobench() {
    let task = Task::LongvideobenchValV;
    let (qs, runs, replies) = check_questions(task, "longvideobench_val_v", "longvideobench_val_v");
    for run in runs.as_array().unwrap() {
        let parsed = run_parsed(task, &qs, run, &replies);
        let s = task.aggregate(qs.iter().zip(&parsed));
        assert_eq!(s.score, run["score"].as_f64().unwrap(), "{task}");
        let want: BTreeMap<String, f64> = serde_json::from_value(run["groups"].clone()).unwrap();
        assert_eq!(s.groups.len(), want.len());
        for g in &s.groups {
            assert_eq!(g.score, want[&g.value], "{task} {}={}", g.field, g.value);
        }
    }
}

#[test]
fn perceptiontest() {
    let task = Task::PerceptiontestValMc;
    let (qs, runs, replies) =
        check_questions(task, "perceptiontest_val_mc", "perceptiontest_val_mc");
    for run in runs.as_array().unwrap() {
        let parsed = run_parsed(task, &qs, run, &replies);
        let s = task.aggregate(qs.iter().zip(&parsed));
        assert!(
            close(s.score, run["score"].as_f64().unwrap()),
            "{task}: {} vs {}",
            s.score,
            run["score"]
        );
        assert!(s.groups.iter().all(|g| !g.official));
    }
}

#[test]
fn missing_media_and_files_are_named() {
    // No placeholders: every question's video is missing.
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture("mlvu_mc"), tmp.path());
    match Task::MlvuMc.load(tmp.path()) {
        Err(Error::MissingMedia { id, what, path }) => {
            assert_eq!((id.as_str(), what), ("4_count/0", "video"));
            assert!(path.ends_with("video/4_count/4_count_0.mp4"), "{path:?}");
        }
        other => panic!("{other:?}"),
    }
    let loaded = Task::MlvuMc.load_lenient(tmp.path()).unwrap();
    assert_eq!((loaded.questions.len(), loaded.skipped.len()), (0, 14));
    // A missing annotation file.
    std::fs::remove_file(tmp.path().join("json/5_order.json")).unwrap();
    let e = Task::MlvuMc.load(tmp.path()).unwrap_err();
    assert!(
        matches!(e, Error::MissingAnnotation { .. }) && e.to_string().contains("5_order.json"),
        "{e}"
    );
    // A missing column.
    let tmp = with_media("lvbench");
    let f = tmp.path().join("json/lvbench_clean_tv.json");
    let text = std::fs::read_to_string(&f)
        .unwrap()
        .replace("\"candidates\"", "\"choices\"");
    std::fs::write(&f, text).unwrap();
    let e = Task::Lvbench.load(tmp.path()).unwrap_err();
    assert!(
        e.to_string()
            .contains("lvbench_clean_tv.json: row 0: column `candidates` is missing"),
        "{e}"
    );
    // LongVideoBench: a missing subtitle is named.
    let tmp = with_media("longvideobench_val_v");
    std::fs::remove_file(tmp.path().join("subtitles/vidD_en.json")).unwrap();
    let e = Task::LongvideobenchValV.load(tmp.path()).unwrap_err();
    assert!(
        matches!(
            e,
            Error::MissingMedia {
                what: "subtitle",
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn names_round_trip() {
    for t in Task::ALL {
        assert_eq!(t.name().parse::<Task>().unwrap(), t);
        assert_eq!(serde_json::to_value(t).unwrap(), t.name());
    }
    assert!("video_mme".parse::<Task>().is_err());
}

/// On the real annotation files (not committed): `HICO_BENCH_REAL=DIR` holds one folder per
/// task (annotations only; media placeholders are created there) and `prompts.json`,
/// `{task: {id: official doc_to_text}}`, written from the official code. Run with
/// `cargo test -p hico-benchmarks -- --ignored real_annotations`.
#[test]
#[ignore]
fn real_annotations() {
    let Ok(root) = std::env::var("HICO_BENCH_REAL") else {
        return;
    };
    let root = PathBuf::from(root);
    let want: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_str(&std::fs::read_to_string(root.join("prompts.json")).unwrap()).unwrap();
    for (name, prompts) in &want {
        let task: Task = name.parse().unwrap();
        let dir = root.join(name);
        for e in task.load_lenient(&dir).unwrap().skipped {
            let Error::MissingMedia { what, path, .. } = e else {
                panic!("{e}")
            };
            if what == "subtitle" {
                std::fs::write(&path, b"[]").unwrap();
            } else if what == "frame folder" {
                std::fs::create_dir_all(&path).unwrap();
            } else {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, b"").unwrap();
            }
        }
        let qs = task.load(&dir).unwrap();
        assert_eq!(qs.len(), prompts.len(), "{task}");
        for q in &qs {
            let w = &prompts[&q.id];
            assert!(
                &q.prompt == w,
                "{task} {}: {}",
                q.id,
                first_diff(&q.prompt, w)
            );
        }
        eprintln!("{task}: {} prompts equal", qs.len());
    }
}
