//! Building NIAH and MH-NIAH sets: files, counts, needle layout, answer letters.

use std::process::Command;

use hico_eval::bench::{BenchSpec, Manifest, MhNiahSpec, NeedleRole, NiahSpec, build_set};

fn frame_count(path: &std::path::Path) -> usize {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("a count")
}

#[test]
fn mh_niah_set_has_chains_from_frame_zero() {
    let dir = tempfile::tempdir().unwrap();
    let spec = BenchSpec::MhNiah(MhNiahSpec {
        frames: vec![36],
        depths: vec![0.0, 1.0],
        repeats: 2,
        min_hops: 5,
        max_hops: 6,
        distractors: 2,
        decoys: 1,
        size: 32,
        fps: 1.0,
        needle_frames: 4,
        shuffle_options: true,
        seed: 7,
        haystack: Default::default(),
    });
    let m = build_set(&spec, "<test>".as_ref(), dir.path(), None).unwrap();
    assert_eq!(m.samples.len(), 4);
    assert_eq!(Manifest::load(dir.path()).unwrap(), m);
    let llava: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("llava.json")).unwrap())
            .unwrap();
    assert_eq!(llava.as_array().unwrap().len(), 4);
    for s in &m.samples {
        assert_eq!(frame_count(&dir.path().join(&s.video)), 36, "{}", s.id);
        let hops: Vec<_> = s
            .needles
            .iter()
            .filter(|n| matches!(n.role, NeedleRole::Hop(_)))
            .collect();
        assert!(
            (5..=6).contains(&hops.len()),
            "{}: {} hops",
            s.id,
            hops.len()
        );
        assert_eq!(s.needles.len(), hops.len() + 3);
        let first = s
            .needles
            .iter()
            .find(|n| n.role == NeedleRole::Hop(0))
            .unwrap();
        assert_eq!(first.start, 0);
        let last = hops.iter().max_by_key(|n| match n.role {
            NeedleRole::Hop(h) => h,
            _ => 0,
        });
        let last = last.unwrap();
        // Final hop: slot 1 at depth 0, the last slot at depth 1.
        let want = if s.depth == 0.0 { 4 } else { 32 };
        assert_eq!(last.start, want, "{}", s.id);
        assert!(last.shape.as_deref().unwrap().starts_with(&s.answer_text));
        // Each clue names the next hop's background.
        for h in 0..hops.len() - 1 {
            let this = s
                .needles
                .iter()
                .find(|n| n.role == NeedleRole::Hop(h))
                .unwrap();
            let next = s
                .needles
                .iter()
                .find(|n| n.role == NeedleRole::Hop(h + 1))
                .unwrap();
            assert_eq!(this.text, format!("NEXT {}", next.background));
        }
        let k = ["A", "B", "C", "D"]
            .iter()
            .position(|l| *l == s.answer)
            .unwrap();
        assert_eq!(s.options[k], s.answer_text);
        assert!(s.question.ends_with("directly."));
    }
}

#[test]
fn niah_needle_depths_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let spec = BenchSpec::Niah(NiahSpec {
        frames: vec![16, 24],
        depths: vec![0.0, 0.5, 1.0],
        repeats: 1,
        size: 32,
        fps: 2.0,
        needle_frames: 4,
        shuffle_options: true,
        seed: 1,
        haystack: Default::default(),
    });
    let m = build_set(&spec, "<test>".as_ref(), dir.path(), None).unwrap();
    assert_eq!(m.samples.len(), 6);
    let starts: Vec<usize> = m.samples.iter().map(|s| s.needles[0].start).collect();
    // 24 frames: 6 slots, depth 0.5 → round(2.5) = slot 3.
    assert_eq!(starts, vec![0, 8, 12, 0, 12, 20]);
    let bad = BenchSpec::Niah(NiahSpec {
        frames: vec![10],
        ..match spec {
            BenchSpec::Niah(n) => n,
            _ => unreachable!(),
        }
    });
    let err = build_set(&bad, "exp.toml".as_ref(), dir.path(), None).unwrap_err();
    assert!(
        err.to_string()
            .contains("exp.toml: invalid `benchmark.frames`"),
        "{err}"
    );
}
