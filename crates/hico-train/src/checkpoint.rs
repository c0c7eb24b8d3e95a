//! Checkpoints: one folder per saved step under `<out>/checkpoints/step-NNNNNNN/` holding
//!
//! - `model.mpk`: the model's weights (burn `NamedMpkFileRecorder`, full precision),
//! - `optim.mpk`: the optimizer state (AdamW moments of the trainable parameters only),
//! - `state.json`: [`TrainState`] (step, data position, shuffle seed, RNG state...),
//! - `manifest.json`: byte length and CRC-32 of the three files above ([`crate::manifest`]).
//!
//! Writes are atomic: everything goes into a hidden temporary folder beside the target,
//! each file is fsynced, the folder is renamed into place and the parent fsynced; then the
//! `latest` pointer file is replaced the same way. A crash or a failed write at any point
//! leaves either the previous checkpoint or the new one, never a half-written one. A folder
//! damaged afterwards (a copy cut short, a full disk) fails its manifest, and
//! [`resume_point`] falls back to the newest checkpoint that passes.

use std::{
    fs::File,
    path::{Path, PathBuf},
};

use burn::{
    module::{AutodiffModule, Module},
    optim::Optimizer,
    record::{FullPrecisionSettings, NamedMpkFileRecorder, Recorder},
    tensor::backend::{AutodiffBackend, Backend},
};
use serde::{Deserialize, Serialize};

use crate::{
    TrainError,
    error::io,
    manifest::{MANIFEST, Verified, verify, write_manifest},
    rng::TrainRng,
};

/// The recorder of every weight file hico-train writes.
pub type WeightRecorder = NamedMpkFileRecorder<FullPrecisionSettings>;

/// Where training stands: everything besides the tensors needed to continue exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Stage name.
    pub stage: String,
    /// Optimizer steps completed.
    pub step: usize,
    /// Optimizer steps the stage runs in total.
    pub total_steps: usize,
    /// Current 0-based epoch.
    pub epoch: usize,
    /// Next position in the current epoch's order.
    pub position: usize,
    /// Seed of the current epoch's shuffled order.
    pub order_seed: u64,
    /// The trainer's RNG after drawing `order_seed`.
    pub rng: TrainRng,
    /// Samples skipped so far (unreadable or too long).
    pub skipped: usize,
    /// Loss of the last completed step.
    pub last_loss: f32,
}

pub use hico_model::materialize;

/// Name of the checkpoint folder of `step`.
pub fn step_dir_name(step: usize) -> String {
    format!("step-{step:07}")
}

/// Save a checkpoint of `model`, `optim` and `state` under `root` (atomically) and point
/// `root/latest` at it. Keeps the newest `keep` checkpoints. Returns the folder.
pub fn save<B, M, O>(
    root: &Path,
    state: &TrainState,
    model: &M,
    optim: &O,
    keep: usize,
) -> Result<PathBuf, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    std::fs::create_dir_all(root).map_err(io(root))?;
    let name = step_dir_name(state.step);
    let target = root.join(&name);
    let tmp = root.join(format!(".tmp-{name}"));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    materialize(model);
    let rec = WeightRecorder::new();
    let fail = |what: &str, e: burn::record::RecorderError| TrainError::Checkpoint {
        path: tmp.join(what),
        message: e.to_string(),
    };
    model
        .clone()
        .save_file(tmp.join("model"), &rec)
        .map_err(|e| fail("model.mpk", e))?;
    Recorder::<B>::record(&rec, optim.to_record(), tmp.join("optim"))
        .map_err(|e| fail("optim.mpk", e))?;
    write_json(&tmp.join("state.json"), state)?;
    let files = ["model.mpk", "optim.mpk", "state.json"];
    write_manifest(&tmp, &files)?;
    for f in files.iter().chain([&MANIFEST]) {
        sync_file(&tmp.join(f))?;
    }
    sync_file(&tmp)?;
    if target.exists() {
        std::fs::remove_dir_all(&target).map_err(io(&target))?;
    }
    std::fs::rename(&tmp, &target).map_err(io(&target))?;
    sync_file(root)?;
    write_atomic(&root.join("latest"), name.as_bytes())?;
    prune(root, keep)?;
    Ok(target)
}

/// The checkpoint `root/latest` points at, if any.
pub fn latest(root: &Path) -> Result<Option<PathBuf>, TrainError> {
    let p = root.join("latest");
    if !p.exists() {
        return Ok(None);
    }
    let name = std::fs::read_to_string(&p).map_err(io(&p))?;
    let dir = root.join(name.trim());
    if !dir.join("state.json").exists() {
        return Err(TrainError::Checkpoint {
            path: dir,
            message: format!("`{}` points here but it holds no state.json", p.display()),
        });
    }
    Ok(Some(dir))
}

/// The checkpoint to resume from: the one `root/latest` points at when it passes its
/// manifest and its state reads, else the newest other `step-*` folder that does (each
/// rejected folder is reported on stderr with why). `None` when `root` holds no checkpoint;
/// an error listing every folder and its fault when none is valid.
pub fn resume_point(root: &Path) -> Result<Option<PathBuf>, TrainError> {
    let pointed = std::fs::read_to_string(root.join("latest"))
        .ok()
        .map(|n| root.join(n.trim()));
    let mut steps = step_dirs(root)?;
    steps.reverse();
    let candidates: Vec<PathBuf> = pointed
        .iter()
        .cloned()
        .chain(steps.into_iter().filter(|d| Some(d) != pointed.as_ref()))
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let mut faults = Vec::new();
    for dir in candidates {
        match check(&dir) {
            Ok(verified) => {
                if verified == Verified::Unchecked {
                    eprintln!(
                        "warning: checkpoint {} has no {MANIFEST} (written by an older hico): not verified",
                        dir.display()
                    );
                }
                if !faults.is_empty() {
                    eprintln!(
                        "warning: resuming from the older checkpoint {} instead",
                        dir.display()
                    );
                }
                return Ok(Some(dir));
            }
            Err(e) => {
                eprintln!(
                    "warning: skipping damaged checkpoint {}: {e}",
                    dir.display()
                );
                faults.push(e.to_string());
            }
        }
    }
    Err(TrainError::Checkpoint {
        path: root.to_owned(),
        message: format!("no valid checkpoint to resume from: {}", faults.join("; ")),
    })
}

/// A checkpoint folder is usable: it exists, passes its manifest, and its state reads.
fn check(dir: &Path) -> Result<Verified, TrainError> {
    if !dir.is_dir() {
        return Err(TrainError::Checkpoint {
            path: dir.to_owned(),
            message: "`latest` points here but the folder is missing".into(),
        });
    }
    let verified = verify(dir)?;
    load_state(dir)?;
    Ok(verified)
}

/// Read a checkpoint's [`TrainState`].
pub fn load_state(dir: &Path) -> Result<TrainState, TrainError> {
    let p = dir.join("state.json");
    let text = std::fs::read_to_string(&p).map_err(io(&p))?;
    serde_json::from_str(&text).map_err(|e| TrainError::Checkpoint {
        path: p,
        message: e.to_string(),
    })
}

/// Load weights saved by [`save`] (or [`save_weights`]) into `model` (`dir/model.mpk`).
pub fn load_weights<B: Backend, M: Module<B>>(
    model: M,
    dir: &Path,
    device: &B::Device,
) -> Result<M, TrainError> {
    model
        .load_file(dir.join("model"), &WeightRecorder::new(), device)
        .map_err(|e| TrainError::Checkpoint {
            path: dir.join("model.mpk"),
            message: e.to_string(),
        })
}

/// Load the optimizer state saved by [`save`] (`dir/optim.mpk`).
pub fn load_optim<B, M, O>(optim: O, dir: &Path, device: &B::Device) -> Result<O, TrainError>
where
    B: AutodiffBackend,
    M: AutodiffModule<B>,
    O: Optimizer<M, B>,
{
    let record =
        Recorder::<B>::load(&WeightRecorder::new(), dir.join("optim"), device).map_err(|e| {
            TrainError::Checkpoint {
                path: dir.join("optim.mpk"),
                message: e.to_string(),
            }
        })?;
    Ok(optim.load_record(record))
}

/// Write only the weights (`dir/model.mpk`), atomically (temp file + rename).
pub fn save_weights<B: Backend, M: Module<B>>(model: &M, dir: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let tmp = dir.join(".tmp-model");
    materialize(model);
    model
        .clone()
        .save_file(&tmp, &WeightRecorder::new())
        .map_err(|e| TrainError::Checkpoint {
            path: dir.join("model.mpk"),
            message: e.to_string(),
        })?;
    let (from, to) = (dir.join(".tmp-model.mpk"), dir.join("model.mpk"));
    sync_file(&from)?;
    std::fs::rename(&from, &to).map_err(io(&to))?;
    sync_file(dir)
}

/// Write a file atomically: temp file in the same folder, fsync, rename, fsync folder.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".tmp-{name}"));
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    sync_file(&tmp)?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_file(dir)
}

/// Write pretty JSON atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), TrainError> {
    let text = serde_json::to_string_pretty(value).expect("serialisable value");
    write_atomic(path, text.as_bytes())
}

fn sync_file(path: &Path) -> Result<(), TrainError> {
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(io(path))
}

/// The `step-*` folders of `root`, oldest first (none when `root` does not exist).
fn step_dirs(root: &Path) -> Result<Vec<PathBuf>, TrainError> {
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(root)(e)),
    };
    let mut steps: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
        })
        .collect();
    steps.sort();
    Ok(steps)
}

/// Delete all but the newest `keep` step folders.
fn prune(root: &Path, keep: usize) -> Result<(), TrainError> {
    let steps = step_dirs(root)?;
    let n = steps.len().saturating_sub(keep.max(1));
    for old in &steps[..n] {
        std::fs::remove_dir_all(old).map_err(io(old))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("latest");
        write_atomic(&p, b"step-0000001").unwrap();
        write_atomic(&p, b"step-0000002").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "step-0000002");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn dangling_latest_is_an_error_naming_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(&dir.path().join("latest"), b"step-0000009").unwrap();
        let e = latest(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("step-0000009") && e.contains("state.json"),
            "{e}"
        );
    }
}
