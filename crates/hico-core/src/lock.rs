//! [`DirLock`]: one process at a time per output folder. `hico train` and `hico ablate`
//! take it before writing anything, so two runs started on the same folder cannot
//! interleave checkpoints, metrics or result tables.
//!
//! The lock is an OS advisory lock (`flock` on Unix, `LockFileEx` on Windows, through
//! `std::fs::File::try_lock`) on `<dir>/.hico.lock`; the file holds the holder's pid, host
//! and command for the error message of the next comer. The OS drops the lock when the
//! process ends, however it ends (a SIGKILL leaves no stale lock), and the file itself is
//! never deleted (deleting it would let two processes lock two different files of the same
//! name).

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

use crate::CoreError;

/// Name of the lock file inside a locked folder.
pub const LOCK_FILE: &str = ".hico.lock";

/// An exclusive lock on an output folder, held until dropped (or the process ends).
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Create `dir` if needed and lock it for `command` (e.g. `"hico train"`). Fails with
    /// [`CoreError::Locked`] naming the folder and the holder's pid, host and command when
    /// another process (or another lock in this process) holds it.
    pub fn acquire(dir: &Path, command: &str) -> Result<Self, CoreError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CoreError::Io { path, source }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                // The holder may be between truncating and writing: an empty read is fine.
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(CoreError::Locked {
                    dir: dir.to_owned(),
                    holder: if holder.is_empty() {
                        "another process (no details written yet)".into()
                    } else {
                        holder.to_string()
                    },
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(&path)(e)),
        }
        let info = format!(
            "pid {} on host {} ({command})\n",
            std::process::id(),
            hostname()
        );
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(info.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(io(&path))?;
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Still held here: clear the holder's details, then release.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// This machine's name (`/proc/sys/kernel/hostname`, `/etc/hostname`, `$HOSTNAME`,
/// `$COMPUTERNAME`), or `unknown`.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .chain(
            ["HOSTNAME", "COMPUTERNAME"]
                .iter()
                .filter_map(|v| std::env::var(v).ok()),
        )
        .map(|h| h.trim().to_string())
        .find(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_folder_and_the_holder_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let first = DirLock::acquire(&out, "hico train").unwrap();
        let e = DirLock::acquire(&out, "hico train")
            .unwrap_err()
            .to_string();
        let pid = format!("pid {}", std::process::id());
        assert!(
            e.contains(&out.display().to_string()) && e.contains(&pid) && e.contains("hico train"),
            "{e}"
        );
        drop(first);
        let again = DirLock::acquire(&out, "hico ablate").unwrap();
        let text = std::fs::read_to_string(again.path()).unwrap();
        assert!(
            text.contains(&pid) && text.contains("hico ablate"),
            "{text}"
        );
        drop(again);
        assert_eq!(std::fs::read_to_string(out.join(LOCK_FILE)).unwrap(), "");
    }
}
