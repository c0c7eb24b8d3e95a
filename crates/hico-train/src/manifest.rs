//! Checkpoint manifests: `manifest.json` in each checkpoint folder lists every file of the
//! checkpoint with its byte length and CRC-32, written (and fsynced) before the folder is
//! renamed into place. A checkpoint is taken as valid only when every listed file has its
//! recorded length and checksum, so a folder damaged after the fact (a copy cut short by a
//! full disk, a truncated file, flipped bytes) is told apart from a good one before any
//! weight is decoded; resuming then falls back to the previous checkpoint
//! ([`crate::checkpoint::resume_point`]).

use std::{
    collections::BTreeMap,
    fs::File,
    io::Read,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::{TrainError, error::io};

/// File name of the manifest inside a checkpoint folder.
pub const MANIFEST: &str = "manifest.json";

/// Length and checksum of one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Length in bytes.
    pub bytes: u64,
    /// CRC-32 (IEEE) of the content.
    pub crc32: u32,
}

/// Every file of a checkpoint folder, by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// File name → length and checksum.
    pub files: BTreeMap<String, FileSum>,
}

/// Length and CRC-32 of a file, read in 1 MiB chunks.
pub fn sum_file(path: &Path) -> Result<FileSum, TrainError> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSum {
        bytes,
        crc32: h.finalize(),
    })
}

/// Sum the files `names` of `dir` and write `dir/manifest.json` (not yet fsynced).
pub fn write_manifest(dir: &Path, names: &[&str]) -> Result<(), TrainError> {
    let files = names
        .iter()
        .map(|n| Ok((n.to_string(), sum_file(&dir.join(n))?)))
        .collect::<Result<BTreeMap<_, _>, TrainError>>()?;
    let path = dir.join(MANIFEST);
    let text = serde_json::to_string_pretty(&Manifest { files }).expect("manifest serialises");
    std::fs::write(&path, text).map_err(io(&path))
}

/// What checking a checkpoint folder against its manifest found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Every listed file has its recorded length and checksum.
    Valid,
    /// The folder has no manifest (written before manifests existed): not checked.
    Unchecked,
}

/// Check every file listed in `dir/manifest.json`. Errors name the file and what differs
/// (missing, length, checksum), or the manifest itself when it is unreadable.
pub fn verify(dir: &Path) -> Result<Verified, TrainError> {
    let path = dir.join(MANIFEST);
    if !path.exists() {
        return Ok(Verified::Unchecked);
    }
    let bad = |path: PathBuf, message: String| TrainError::Checkpoint { path, message };
    let text = std::fs::read_to_string(&path).map_err(io(&path))?;
    let m: Manifest = serde_json::from_str(&text)
        .map_err(|e| bad(path.clone(), format!("unreadable manifest: {e}")))?;
    if m.files.is_empty() {
        return Err(bad(path, "the manifest lists no files".into()));
    }
    for (name, want) in &m.files {
        let file = dir.join(name);
        if !file.is_file() {
            return Err(bad(file, "listed in manifest.json but missing".into()));
        }
        let got = sum_file(&file)?;
        if got.bytes != want.bytes {
            return Err(bad(
                file,
                format!(
                    "{} bytes, manifest.json says {} (truncated or overwritten)",
                    got.bytes, want.bytes
                ),
            ));
        }
        if got.crc32 != want.crc32 {
            return Err(bad(
                file,
                format!(
                    "CRC-32 {:08x}, manifest.json says {:08x} (content damaged)",
                    got.crc32, want.crc32
                ),
            ));
        }
    }
    Ok(Verified::Valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damage_of_any_kind_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.bin"), vec![7u8; 3000]).unwrap();
        std::fs::write(d.join("b.json"), "{}").unwrap();
        assert_eq!(verify(d).unwrap(), Verified::Unchecked);
        write_manifest(d, &["a.bin", "b.json"]).unwrap();
        assert_eq!(verify(d).unwrap(), Verified::Valid);
        // Flipped byte, same length.
        let mut bytes = std::fs::read(d.join("a.bin")).unwrap();
        bytes[1234] ^= 1;
        std::fs::write(d.join("a.bin"), &bytes).unwrap();
        let e = verify(d).unwrap_err().to_string();
        assert!(e.contains("a.bin") && e.contains("CRC-32"), "{e}");
        // Truncated.
        std::fs::write(d.join("a.bin"), &bytes[..1500]).unwrap();
        let e = verify(d).unwrap_err().to_string();
        assert!(e.contains("a.bin") && e.contains("1500 bytes"), "{e}");
        // Missing.
        std::fs::remove_file(d.join("b.json")).unwrap();
        std::fs::write(d.join("a.bin"), vec![7u8; 3000]).unwrap();
        let e = verify(d).unwrap_err().to_string();
        assert!(e.contains("b.json") && e.contains("missing"), "{e}");
        // The manifest itself cut short.
        std::fs::write(d.join(MANIFEST), "{\"files\": {").unwrap();
        let e = verify(d).unwrap_err().to_string();
        assert!(e.contains("manifest.json"), "{e}");
    }
}
