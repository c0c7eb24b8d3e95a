//! Data parallel across processes, end to end: two `hico train` processes on localhost
//! (`--rank`/`--world-size`/`--master-addr`, or torchrun's environment variables) train the
//! tiny synthetic stage like one process with the same global batch (loss, samples and
//! answer tokens per step); a peer killed with SIGKILL mid-run makes the other stop with an
//! error naming it, within a bound (a hang fails the test), and relaunching both with
//! `--resume` continues from the last checkpoint to the end, on the same loss curve (a rank
//! that would resume from elsewhere is refused first); a peer
//! that hangs (SIGSTOP) makes the other stop after `--dist-timeout`.

#![cfg(feature = "ddp")]

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Mutex, OnceLock},
    time::{Duration, Instant},
};

const STEPS: usize = 30;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn hico() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hico"));
    c.current_dir(root());
    // Whatever launched the tests must not leak a launch into the single-process runs.
    for k in [
        "RANK",
        "WORLD_SIZE",
        "MASTER_ADDR",
        "MASTER_PORT",
        "LOCAL_RANK",
    ] {
        c.env_remove(k);
    }
    c
}

/// The two tests share the CPU: one at a time.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A folder with the synthetic dataset and a stage config on it: 4 samples per step over
/// 2 processes, a checkpoint every step.
fn setup() -> &'static (tempfile::TempDir, PathBuf) {
    static SETUP: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        run_ok(
            hico().args(["train", "--make-synth"]).arg(&data),
            "make-synth",
        );
        let mut toml =
            std::fs::read_to_string(root().join("configs/train/tiny_synth.toml")).unwrap();
        for (from, to) in [
            ("batch_size = 1", "batch_size = 2".to_string()),
            ("grad_accum = 1", "grad_accum = 2".to_string()),
            ("every = 100", "every = 1".to_string()),
            ("progress = true", "progress = false".to_string()),
            (
                "annotations = \"data/tiny_synth/train.json\"",
                format!("annotations = {:?}", data.join("train.json")),
            ),
            (
                "video_root = \"data/tiny_synth\"",
                format!("video_root = {:?}", data),
            ),
        ] {
            assert!(
                toml.contains(from),
                "tiny_synth.toml no longer has `{from}`"
            );
            toml = toml.replace(from, &to);
        }
        let stage = dir.path().join("stage.toml");
        std::fs::write(&stage, toml).unwrap();
        (dir, stage)
    })
}

/// The single-process reference run's output folder.
fn reference() -> &'static Path {
    static REF: OnceLock<PathBuf> = OnceLock::new();
    REF.get_or_init(|| {
        let (dir, stage) = setup();
        let out = dir.path().join("single");
        run_ok(&mut train(stage, &out), "single process");
        out
    })
}

fn train(stage: &Path, out: &Path) -> Command {
    let mut c = hico();
    c.args(["train", "--config"])
        .arg(stage)
        .arg("--out")
        .arg(out)
        .args(["--max-steps", &STEPS.to_string()]);
    c
}

fn run_ok(c: &mut Command, what: &str) {
    let o = c.output().unwrap();
    assert!(
        o.status.success(),
        "{what}: {}\nstdout: {}\nstderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A port P with P + 1 free too (rank r listens at P + r).
fn free_port() -> u16 {
    loop {
        let p = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if p < u16::MAX && TcpListener::bind(("0.0.0.0", p + 1)).is_ok() {
            return p;
        }
    }
}

/// Rank `rank` of 2, by flags or (`env`) by torchrun's environment variables; its output
/// goes to files beside `out` (a pipe nobody reads could fill up and block it).
fn spawn_rank(
    stage: &Path,
    out: &Path,
    rank: usize,
    port: u16,
    env: bool,
    resume: bool,
    timeout_s: u32,
) -> Ranked {
    let mut c = train(stage, out);
    if env {
        c.env("RANK", rank.to_string())
            .env("WORLD_SIZE", "2")
            .env("MASTER_ADDR", "127.0.0.1")
            .env("MASTER_PORT", port.to_string());
    } else {
        c.args(["--rank", &rank.to_string(), "--world-size", "2"])
            .args(["--master-addr", &format!("127.0.0.1:{port}")]);
    }
    if resume {
        c.arg("--resume");
    }
    let log = out.with_extension(format!(
        "rank{rank}.{}.log",
        if resume { "resumed" } else { "first" }
    ));
    let file = std::fs::File::create(&log).unwrap();
    let child = c
        .args(["--dist-timeout", &timeout_s.to_string()])
        .stdout(Stdio::from(file.try_clone().unwrap()))
        .stderr(Stdio::from(file))
        .spawn()
        .unwrap();
    Ranked { child, log }
}

/// A launched rank and the file of its output.
struct Ranked {
    child: Child,
    log: PathBuf,
}

/// Wait at most `bound` for a rank (killed and reported as hung past it); its status and
/// output.
fn wait(ranked: Ranked, bound: Duration, who: &str) -> (ExitStatus, String) {
    let Ranked { mut child, log } = ranked;
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > bound {
            let _ = child.kill();
            let _ = child.wait();
            let out = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("{who} still running after {bound:?} (hung); output:\n{out}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    (status, std::fs::read_to_string(&log).unwrap())
}

/// (step, loss, samples, answer_tokens, tokens_per_s) of each line of metrics.jsonl.
fn metrics(out: &Path) -> Vec<(u64, f64, u64, u64, f64)> {
    let text = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["step"].as_u64().unwrap(),
                v["loss"].as_f64().unwrap(),
                v["samples"].as_u64().unwrap(),
                v["answer_tokens"].as_u64().unwrap(),
                v["tokens_per_s"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn assert_same_curve(label: &str, out: &Path) {
    let (a, b) = (metrics(reference()), metrics(out));
    assert_eq!(a.len(), STEPS, "reference steps");
    assert_eq!(b.len(), STEPS, "{label}: steps");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            (x.0, x.2, x.3),
            (y.0, y.2, y.3),
            "{label}: step, samples, answer tokens"
        );
        let tol = 1e-4 * x.1.abs().max(1.0);
        assert!(
            (x.1 - y.1).abs() <= tol,
            "{label}: step {} loss {} vs one process {}",
            x.0,
            y.1,
            x.1
        );
    }
    assert!(
        out.join("final/model.mpk").exists(),
        "{label}: no final model"
    );
}

/// Far above a run's time (seconds) and the 30 s `--dist-timeout`: only a hang reaches it.
const BOUND: Duration = Duration::from_secs(120);

#[test]
fn two_processes_train_like_one() {
    let _g = serial();
    let (dir, stage) = setup();
    reference();
    let out = dir.path().join("two");
    let port = free_port();
    let r0 = spawn_rank(stage, &out, 0, port, false, false, 30);
    let r1 = spawn_rank(stage, &out, 1, port, true, false, 30);
    let (s1, o1) = wait(r1, BOUND, "rank 1");
    let (s0, o0) = wait(r0, BOUND, "rank 0");
    assert!(s0.success(), "rank 0: {s0}\n{o0}");
    assert!(s1.success(), "rank 1: {s1}\n{o1}");
    assert!(o0.contains(&format!("{STEPS} steps")), "{o0}");
    assert!(o1.contains("rank 1 of 2 done"), "{o1}");
    assert_same_curve("2 processes", &out);
}

#[test]
fn killed_peer_stops_the_other_and_resume_finishes() {
    let _g = serial();
    let (dir, stage) = setup();
    reference();
    let out = dir.path().join("killed");
    let port = free_port();
    let r0 = spawn_rank(stage, &out, 0, port, false, false, 30);
    let mut r1 = spawn_rank(stage, &out, 1, port, false, false, 30);
    // Kill rank 1 once rank 0 has written (and checkpointed) three steps.
    let start = Instant::now();
    while metrics(&out).len() < 3 {
        assert!(start.elapsed() < BOUND, "no third step within {BOUND:?}");
        assert!(
            r1.child.try_wait().unwrap().is_none(),
            "rank 1 ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    r1.child.kill().unwrap(); // SIGKILL
    let _ = r1.child.wait();
    let (s0, o0) = wait(r0, BOUND, "rank 0 after its peer was killed");
    assert!(
        !s0.success(),
        "rank 0 finished although rank 1 was killed:\n{o0}"
    );
    assert!(
        o0.contains("rank 1 (ws://") && o0.contains("data parallel"),
        "rank 0's error does not name the lost peer:\n{o0}"
    );
    let before = metrics(&out);
    assert!(
        before.len() >= 3 && before.len() < STEPS,
        "{} steps written",
        before.len()
    );

    // A rank pointed at another (empty) folder would start afresh: all refuse to start.
    let port = free_port();
    let r0 = spawn_rank(stage, &out, 0, port, false, true, 30);
    let r1 = spawn_rank(
        stage,
        &dir.path().join("elsewhere"),
        1,
        port,
        false,
        true,
        30,
    );
    let (s1, o1) = wait(r1, BOUND, "rank 1 on another folder");
    let (s0, o0) = wait(r0, BOUND, "rank 0 beside a rank on another folder");
    for (s, o) in [(s0, &o0), (s1, &o1)] {
        assert!(!s.success(), "started from different points:\n{o}");
        assert!(
            o.contains("ranks [1] do not start where rank 0 does"),
            "{o}"
        );
    }
    assert_eq!(
        metrics(&out),
        before,
        "the refused start changed the metrics"
    );

    let port = free_port();
    let r0 = spawn_rank(stage, &out, 0, port, false, true, 30);
    let r1 = spawn_rank(stage, &out, 1, port, false, true, 30);
    let (s1, o1) = wait(r1, BOUND, "resumed rank 1");
    let (s0, o0) = wait(r0, BOUND, "resumed rank 0");
    assert!(s0.success(), "resumed rank 0: {s0}\n{o0}");
    assert!(s1.success(), "resumed rank 1: {s1}\n{o1}");
    let after = metrics(&out);
    // The steps written before the kill are kept as they were (their timing included):
    // the relaunch resumed from the checkpoint instead of starting over.
    for (x, y) in before.iter().zip(&after) {
        assert_eq!(x, y, "step {} was redone after the relaunch", x.0);
    }
    assert_same_curve("killed and resumed", &out);
}

#[test]
fn hung_peer_stops_the_other_after_the_timeout() {
    let _g = serial();
    let (dir, stage) = setup();
    let out = dir.path().join("hung");
    let port = free_port();
    let r0 = spawn_rank(stage, &out, 0, port, false, false, 10);
    let mut r1 = spawn_rank(stage, &out, 1, port, false, false, 10);
    let start = Instant::now();
    while metrics(&out).len() < 3 {
        assert!(start.elapsed() < BOUND, "no third step within {BOUND:?}");
        assert!(
            r1.child.try_wait().unwrap().is_none(),
            "rank 1 ended before it was stopped"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Rank 1 stays alive (its connections open) but answers nothing: only the timeout helps.
    let pid = r1.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let (s0, o0) = wait(r0, BOUND, "rank 0 beside a stopped peer");
    r1.child.kill().unwrap();
    let _ = r1.child.wait();
    assert!(
        !s0.success(),
        "rank 0 finished beside a stopped peer:\n{o0}"
    );
    assert!(
        o0.contains("no answer from rank 1 (ws://") && o0.contains("within 10 s"),
        "rank 0's error does not name the silent peer and the timeout:\n{o0}"
    );
}
