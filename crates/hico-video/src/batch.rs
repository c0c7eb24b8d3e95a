//! Batch probing: skip and count bad files instead of stopping at the first.

use std::path::{Path, PathBuf};

use hico_core::VideoInfo;

use crate::{VideoError, probe};

/// Outcome of [`probe_many`]: the good videos and the bad ones with their errors.
#[derive(Debug, Default)]
pub struct BatchReport {
    /// Videos that opened, with their info.
    pub ok: Vec<(PathBuf, VideoInfo)>,
    /// Videos that did not, with why.
    pub failed: Vec<VideoError>,
}

impl BatchReport {
    /// Number of bad files skipped.
    pub fn skipped(&self) -> usize {
        self.failed.len()
    }
}

/// Probe many files, skipping and counting bad ones instead of stopping at the first.
pub fn probe_many<P: AsRef<Path>>(paths: &[P]) -> BatchReport {
    let mut report = BatchReport::default();
    for path in paths {
        let path = path.as_ref();
        match probe(path) {
            Ok(info) => report.ok.push((path.to_path_buf(), info)),
            Err(e) => report.failed.push(e),
        }
    }
    report
}
