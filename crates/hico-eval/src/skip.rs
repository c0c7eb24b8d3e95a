//! Questions that could not be scored (an unreadable or damaged video, a panic inside the
//! model on one input): skipped, logged one JSON line each to `skipped.jsonl` in the output
//! folder, and counted as wrong, the way training skips and logs unreadable samples. A
//! limit (`max_skipped`) stops a run whose data is broken as a whole (a wrong video root, a
//! truncated copy) instead of reporting an accuracy of 0.

use std::{
    io::Write,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// One skipped question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Sample id.
    pub id: String,
    /// The video, as the manifest names it (relative to the set directory).
    pub video: String,
    /// Why it could not be scored.
    pub reason: String,
}

/// Where skipped questions are written, and how many may be skipped.
#[derive(Debug, Clone)]
pub struct SkipLog {
    /// The `skipped.jsonl` file (absent: not written, only counted).
    pub path: Option<PathBuf>,
    /// Most questions that may be skipped before the run stops.
    pub limit: usize,
}

/// The default limit for a set of `n` questions: a tenth of them, rounded down.
pub fn default_limit(n: usize) -> usize {
    n / 10
}

impl SkipLog {
    /// A log at `dir/skipped.jsonl` (a stale file from an earlier run is removed) allowing
    /// `max_skipped` of `n` questions (`None`: [`default_limit`]).
    pub fn in_dir(
        dir: Option<&Path>,
        n: usize,
        max_skipped: Option<usize>,
    ) -> Result<Self, EvalError> {
        let path = dir.map(|d| d.join("skipped.jsonl"));
        if let Some(p) = &path {
            match std::fs::remove_file(p) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(EvalError::io(p)(e));
                }
                _ => {}
            }
        }
        Ok(Self {
            path,
            limit: max_skipped.unwrap_or_else(|| default_limit(n)),
        })
    }

    /// Record `s` (appended and flushed at once, so a killed run keeps it); `so_far` is the
    /// number skipped including `s`, of `n` questions. Errors when the limit is passed.
    pub fn record(&self, s: &Skipped, so_far: usize, n: usize) -> Result<(), EvalError> {
        eprintln!(
            "warning: skipped question `{}` ({}): {}",
            s.id, s.video, s.reason
        );
        if let Some(p) = &self.path {
            let line = serde_json::to_string(s).map_err(|source| EvalError::Json {
                path: p.clone(),
                source,
            })?;
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .and_then(|mut f| writeln!(f, "{line}"))
                .map_err(EvalError::io(p))?;
        }
        if so_far > self.limit {
            return Err(EvalError::TooManySkipped {
                skipped: so_far,
                total: n,
                limit: self.limit,
                log: self
                    .path
                    .as_ref()
                    .map_or_else(|| "(not logged)".into(), |p| p.display().to_string()),
                last: format!("`{}` ({}): {}", s.id, s.video, s.reason),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(id: &str) -> Skipped {
        Skipped {
            id: id.into(),
            video: format!("videos/{id}.mp4"),
            reason: "moov atom not found".into(),
        }
    }

    #[test]
    fn logs_each_skip_and_stops_past_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("skipped.jsonl"), "stale\n").unwrap();
        let log = SkipLog::in_dir(Some(dir.path()), 20, Some(1)).unwrap();
        assert!(
            !dir.path().join("skipped.jsonl").exists(),
            "stale log removed"
        );
        log.record(&s("q1"), 1, 20).unwrap();
        let e = log.record(&s("q2"), 2, 20).unwrap_err().to_string();
        assert!(
            e.contains("2 of 20") && e.contains("max_skipped = 1") && e.contains("q2"),
            "{e}"
        );
        let text = std::fs::read_to_string(dir.path().join("skipped.jsonl")).unwrap();
        let lines: Vec<Skipped> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines, vec![s("q1"), s("q2")]);
    }

    #[test]
    fn default_limit_is_a_tenth() {
        assert_eq!(default_limit(9), 0);
        assert_eq!(default_limit(10_000), 1_000);
        let log = SkipLog::in_dir(None, 36, None).unwrap();
        assert_eq!(log.limit, 3);
    }
}
