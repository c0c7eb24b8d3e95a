//! Kill-and-resume: a training process killed with SIGKILL and resumed from its latest
//! checkpoint produces exactly the losses of an uninterrupted run.
//!
//! The child is this test binary itself, re-run with only the ignored `child_trains`
//! test selected; the parent kills it once a checkpoint of step ≥ 3 exists, whatever it
//! is doing at that moment (possibly writing the next checkpoint).

mod common;

use std::{path::Path, process::Command, time::Duration};

use hico_backend::{CpuAutodiff, cpu_device};
use hico_train::{StageConfig, checkpoint, metrics::read_metrics, run_stage};

const STEPS: usize = 10;

fn stage_for(data: &Path) -> StageConfig {
    let mut s = common::stage_on(data);
    s.max_steps = STEPS;
    s.checkpoint.every = 1;
    s
}

#[test]
#[ignore = "child process of `sigkill_then_resume_matches_uninterrupted`"]
fn child_trains() {
    let (Ok(out), Ok(data)) = (
        std::env::var("HICO_TRAIN_CHILD_OUT"),
        std::env::var("HICO_TRAIN_CHILD_DATA"),
    ) else {
        return;
    };
    let (p, s) = (common::pipeline(), stage_for(Path::new(&data)));
    run_stage::<CpuAutodiff>(&p, &s, None, Path::new(&out), false, &cpu_device()).unwrap();
}

#[test]
fn sigkill_then_resume_matches_uninterrupted() {
    let _guard = common::lock();
    let data = common::dataset();
    let (p, s) = (common::pipeline(), stage_for(data));
    let dev = cpu_device();
    let whole = tempfile::tempdir().unwrap();
    run_stage::<CpuAutodiff>(&p, &s, None, whole.path(), false, &dev).unwrap();
    let expected = read_metrics(&whole.path().join("metrics.jsonl")).unwrap();
    assert_eq!(expected.len(), STEPS);

    let killed = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["child_trains", "--exact", "--ignored", "--test-threads=1"])
        .env("HICO_TRAIN_CHILD_OUT", killed.path())
        .env("HICO_TRAIN_CHILD_DATA", data)
        .spawn()
        .unwrap();
    let ck_root = killed.path().join("checkpoints");
    let mut waited = Duration::ZERO;
    loop {
        let step = checkpoint::latest(&ck_root)
            .ok()
            .flatten()
            .and_then(|d| checkpoint::load_state(&d).ok())
            .map_or(0, |s| s.step);
        if step >= 3 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "child ended early");
        assert!(
            waited < Duration::from_secs(120),
            "no checkpoint after 2 min"
        );
        std::thread::sleep(Duration::from_millis(5));
        waited += Duration::from_millis(5);
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "child finished before the kill: raise STEPS"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let at = checkpoint::load_state(&checkpoint::latest(&ck_root).unwrap().unwrap()).unwrap();
    assert!((3..STEPS).contains(&at.step), "killed at step {}", at.step);

    let out = run_stage::<CpuAutodiff>(&p, &s, None, killed.path(), true, &dev).unwrap();
    assert_eq!(out.steps, STEPS);
    let got = read_metrics(&killed.path().join("metrics.jsonl")).unwrap();
    let steps: Vec<usize> = got.iter().map(|m| m.step).collect();
    assert_eq!(steps, (1..=STEPS).collect::<Vec<_>>());
    for (a, b) in expected.iter().zip(&got) {
        assert_eq!(
            a.loss.to_bits(),
            b.loss.to_bits(),
            "step {}: uninterrupted {} vs resumed {} (resumed from step {})",
            a.step,
            a.loss,
            b.loss,
            at.step
        );
        assert_eq!(a.lr, b.lr);
    }
}

#[test]
fn fresh_run_refuses_a_folder_with_checkpoints() {
    let _guard = common::lock();
    let (p, mut s) = (common::pipeline(), stage_for(common::dataset()));
    s.max_steps = 1;
    let dir = tempfile::tempdir().unwrap();
    let dev = cpu_device();
    run_stage::<CpuAutodiff>(&p, &s, None, dir.path(), false, &dev).unwrap();
    let e = run_stage::<CpuAutodiff>(&p, &s, None, dir.path(), false, &dev)
        .unwrap_err()
        .to_string();
    assert!(e.contains("--resume"), "{e}");
}
