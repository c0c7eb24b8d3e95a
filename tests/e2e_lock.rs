//! `hico ablate` on an output folder another run holds stops at once, naming the folder and
//! the other process's pid, and writes nothing there.

use std::{path::Path, process::Command};

use hico_core::lock::DirLock;

#[test]
fn ablate_refuses_a_locked_output_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let _held = DirLock::acquire(&out, "hico ablate").unwrap();
    let res = Command::new(env!("CARGO_BIN_EXE_hico"))
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .args(["ablate", "experiments/mh_niah_tiny.toml", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(!res.status.success());
    let err = String::from_utf8_lossy(&res.stderr);
    assert!(
        err.contains(&out.display().to_string())
            && err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written, vec![hico_core::lock::LOCK_FILE], "{written:?}");
}
