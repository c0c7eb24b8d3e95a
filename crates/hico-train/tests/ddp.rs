//! Data parallel (feature `ddp`): replicas on threads sharing the CPU device, combined with
//! burn's collective all-reduce, train like one device over the same samples. A step's
//! samples are split over the replicas, yet the loss curve, the per-step sample counts and
//! the final weights match a single-device run (up to float summation order), also when the
//! step's samples do not divide evenly, and a checkpoint written by 2 replicas resumes on 3.
//!
//! One test function: burn's collective server is global per backend type, so two
//! data-parallel runs must not overlap in one process.

#![cfg(feature = "ddp")]

mod common;

use std::path::Path;

use hico_backend::{Cpu, CpuAutodiff, cpu_device};
use hico_train::{
    RunOptions, StageConfig, load_trained, metrics::read_metrics, run_stage, run_stage_parallel,
};

const STEPS: usize = 6;

fn stage() -> StageConfig {
    let mut s = common::stage();
    s.batch_size = 2;
    s.grad_accum = 2; // 4 samples per step
    s.max_steps = STEPS;
    s.checkpoint.every = 1;
    s
}

fn parallel(s: &StageConfig, out: &Path, replicas: usize, resume: bool, opts: &RunOptions) {
    let devices = vec![cpu_device(); replicas];
    let p = common::pipeline();
    run_stage_parallel::<CpuAutodiff>(&p, s, None, out, resume, &devices, opts).unwrap();
}

/// Compare a run's metrics and final weights with the single-device reference.
fn assert_close(label: &str, reference: &Path, run: &Path) {
    let (a, b) = (
        read_metrics(&reference.join("metrics.jsonl")).unwrap(),
        read_metrics(&run.join("metrics.jsonl")).unwrap(),
    );
    assert_eq!(a.len(), STEPS, "{label}: reference steps");
    assert_eq!(b.len(), STEPS, "{label}: steps");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.step, y.step);
        assert_eq!(x.samples, y.samples, "{label}: step {} samples", x.step);
        assert_eq!(x.answer_tokens, y.answer_tokens, "{label}: step {}", x.step);
        assert_eq!(x.lr, y.lr, "{label}: step {} learning rates", x.step);
        let tol = 1e-4 * x.loss.abs().max(1.0);
        assert!(
            (x.loss - y.loss).abs() <= tol,
            "{label}: step {} loss {} vs single device {}",
            x.step,
            y.loss,
            x.loss
        );
    }
    let (p, dev) = (common::pipeline(), cpu_device());
    let wa = common::params(
        &load_trained::<Cpu>(&p, &reference.join("final"), &dev)
            .unwrap()
            .model,
    );
    let wb = common::params(
        &load_trained::<Cpu>(&p, &run.join("final"), &dev)
            .unwrap()
            .model,
    );
    assert_eq!(wa.len(), wb.len());
    let worst = wa
        .iter()
        .zip(&wb)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(
        worst < 1e-4,
        "{label}: final weights differ by up to {worst}"
    );
}

#[test]
fn replicas_train_like_one_device() {
    let _guard = common::lock();
    let s = stage();
    let single = tempfile::tempdir().unwrap();
    run_stage::<CpuAutodiff>(
        &common::pipeline(),
        &s,
        None,
        single.path(),
        false,
        &cpu_device(),
    )
    .unwrap();

    let two = tempfile::tempdir().unwrap();
    parallel(&s, two.path(), 2, false, &RunOptions::default());
    assert_close("2 replicas", single.path(), two.path());

    // 4 samples per step over 3 replicas: shares of 2, 1 and 1.
    let three = tempfile::tempdir().unwrap();
    parallel(&s, three.path(), 3, false, &RunOptions::default());
    assert_close("3 replicas", single.path(), three.path());

    // Stop 2 replicas after step 3, resume with 3.
    let moved = tempfile::tempdir().unwrap();
    let stop = RunOptions {
        stop_after: Some(3),
        progress: None,
    };
    parallel(&s, moved.path(), 2, false, &stop);
    parallel(&s, moved.path(), 3, true, &RunOptions::default());
    assert_close("2 then 3 replicas", single.path(), moved.path());
}
