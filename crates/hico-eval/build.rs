//! Stamps the build with the git commit of the source tree (`HICO_GIT_COMMIT`), so that every
//! ablation result row and cell cache key names the code that produced it. `unknown` outside
//! a git checkout; `-dirty` appended when tracked files differed from the commit.

use std::{path::Path, process::Command};

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Re-stamp when any source of the workspace or the checked-out commit changes. The
    // sources are named relative to this package: cargo gives the same build directory to
    // the same package in two checkouts sharing a target directory (worktrees), and
    // absolute paths would keep watching the checkout that built it last, leaving the
    // other's stamp stale.
    for p in ["crates", "src", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed=../../{p}");
    }
    let root_s = root.to_string_lossy().into_owned();
    if let Some(dir) = git(&["-C", &root_s, "rev-parse", "--git-dir"]) {
        let dir = root.join(dir);
        println!("cargo:rerun-if-changed={}", dir.join("HEAD").display());
        println!("cargo:rerun-if-changed={}", dir.join("index").display());
    }
    if let Some(common) = git(&["-C", &root_s, "rev-parse", "--git-common-dir"]) {
        let common = root.join(common);
        println!("cargo:rerun-if-changed={}", common.join("refs").display());
        println!(
            "cargo:rerun-if-changed={}",
            common.join("packed-refs").display()
        );
    }
    let commit = match git(&["-C", &root_s, "rev-parse", "--short=12", "HEAD"]) {
        Some(c) if !c.is_empty() => {
            let dirty = git(&[
                "-C",
                &root_s,
                "status",
                "--porcelain",
                "--untracked-files=no",
            ])
            .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=HICO_GIT_COMMIT={commit}");
}
