//! The output-folder lock across processes: a second process is refused with the folder and
//! the holder's pid named, and the lock is free again once the holder exits, even when it
//! is killed (the OS releases advisory locks with the process).
//!
//! The holder is this test binary itself, re-run with only the ignored `child_holds_lock`
//! test selected.

use std::{
    path::Path,
    process::{Child, Command},
    time::Duration,
};

use hico_core::{CoreError, lock::DirLock};

#[test]
#[ignore = "child process of `a_second_process_is_refused_until_the_holder_ends`"]
fn child_holds_lock() {
    let Ok(dir) = std::env::var("HICO_LOCK_CHILD_DIR") else {
        return;
    };
    let dir = Path::new(&dir);
    let _lock = DirLock::acquire(&dir.join("out"), "hico ablate").unwrap();
    std::fs::write(dir.join("ready"), "").unwrap();
    for _ in 0..6000 {
        if dir.join("release").exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn spawn_holder(dir: &Path) -> Child {
    let _ = std::fs::remove_file(dir.join("ready"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_holds_lock",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env("HICO_LOCK_CHILD_DIR", dir)
        .spawn()
        .unwrap();
    for _ in 0..6000 {
        if dir.join("ready").exists() {
            return child;
        }
        assert!(child.try_wait().unwrap().is_none(), "holder ended early");
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("holder never took the lock");
}

#[test]
fn a_second_process_is_refused_until_the_holder_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = spawn_holder(dir.path());
    let e = DirLock::acquire(&out, "hico train").unwrap_err();
    let CoreError::Locked {
        dir: locked,
        holder,
    } = &e
    else {
        panic!("expected Locked, got {e}");
    };
    assert_eq!(locked, &out);
    assert!(holder.contains(&format!("pid {}", child.id())), "{e}");
    assert!(e.to_string().contains(&out.display().to_string()), "{e}");
    std::fs::write(dir.path().join("release"), "").unwrap();
    assert!(child.wait().unwrap().success());
    drop(DirLock::acquire(&out, "hico train").unwrap());

    // Killed while holding it: no stale lock.
    std::fs::remove_file(dir.path().join("release")).unwrap();
    let mut child = spawn_holder(dir.path());
    assert!(DirLock::acquire(&out, "hico train").is_err());
    child.kill().unwrap();
    child.wait().unwrap();
    DirLock::acquire(&out, "hico train").unwrap();
}
