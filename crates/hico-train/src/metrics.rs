//! Per-step metrics: one JSON object per optimizer step in `metrics.jsonl`, and a progress
//! bar on stderr showing the same numbers.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
};

use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::{TrainError, error::io};

/// What one optimizer step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepMetrics {
    /// 1-based optimizer step.
    pub step: usize,
    /// 0-based epoch.
    pub epoch: usize,
    /// Mean answer-token cross entropy over the step's samples.
    pub loss: f32,
    /// Learning rate of each trainable part at this step.
    pub lr: BTreeMap<String, f64>,
    /// Sequence tokens (text + visual, at the LLM input) per second of step time.
    pub tokens_per_s: f64,
    /// Answer tokens the loss was computed on.
    pub answer_tokens: usize,
    /// Visual tokens entering the LLM, summed over the step's samples.
    pub visual_tokens: usize,
    /// Visual tokens still present after the last drop, summed over the step's samples.
    pub visual_kept: usize,
    /// Samples that contributed.
    pub samples: usize,
    /// Samples skipped so far in this stage (unreadable or too long).
    pub skipped_total: usize,
}

/// Appends [`StepMetrics`] to a JSONL file.
pub struct MetricsLog {
    path: PathBuf,
    file: File,
}

impl MetricsLog {
    /// Open `path` for appending. When resuming from `keep_up_to` (the checkpoint's step),
    /// lines of later steps (written after that checkpoint, before a crash) are removed.
    pub fn open(path: &Path, keep_up_to: Option<usize>) -> Result<Self, TrainError> {
        let kept = match keep_up_to {
            Some(step) if path.exists() => read_metrics(path)?
                .into_iter()
                .filter(|m| m.step <= step)
                .collect(),
            _ => Vec::new(),
        };
        let mut file = File::create(path).map_err(io(path))?;
        for m in &kept {
            writeln!(
                file,
                "{}",
                serde_json::to_string(m).expect("metrics serialise")
            )
            .map_err(io(path))?;
        }
        Ok(Self {
            path: path.to_owned(),
            file,
        })
    }

    /// Append one step and flush: the line reaches the OS before this returns (the file
    /// is unbuffered), so a killed process never loses a step it wrote.
    pub fn write(&mut self, m: &StepMetrics) -> Result<(), TrainError> {
        let line = serde_json::to_string(m).expect("metrics serialise");
        writeln!(self.file, "{line}").map_err(io(&self.path))?;
        self.file.flush().map_err(io(&self.path))
    }
}

/// Read a metrics file back (tests, plots).
pub fn read_metrics(path: &Path) -> Result<Vec<StepMetrics>, TrainError> {
    let f = File::open(path).map_err(io(path))?;
    let mut out = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push(serde_json::from_str(&line).map_err(|e| TrainError::Data {
            path: path.to_owned(),
            index: i,
            message: format!("bad metrics line: {e}"),
        })?);
    }
    Ok(out)
}

/// A progress bar over the stage's optimizer steps (hidden when `show` is false).
pub fn progress_bar(total: usize, done: usize, show: bool, name: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total as u64);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {bar:30} {pos}/{len} steps ({eta}) {msg}",
        )
        .expect("valid template"),
    );
    pb.set_prefix(name.to_string());
    pb.set_position(done as u64);
    pb
}

/// The progress bar message of a step.
pub fn bar_message(m: &StepMetrics) -> String {
    let lr = m.lr.values().next().copied().unwrap_or(0.0);
    format!(
        "loss {:.4} lr {lr:.2e} {:.0} tok/s visual {}/{} skipped {}",
        m.loss, m.tokens_per_s, m.visual_kept, m.visual_tokens, m.skipped_total
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(step: usize) -> StepMetrics {
        StepMetrics {
            step,
            epoch: 0,
            loss: step as f32,
            lr: [("llm".to_string(), 1e-5)].into(),
            tokens_per_s: 1.0,
            answer_tokens: 2,
            visual_tokens: 8,
            visual_kept: 4,
            samples: 1,
            skipped_total: 0,
        }
    }

    #[test]
    fn each_step_is_in_the_file_as_soon_as_written() {
        // No buffering in the process: a kill right after `write` loses nothing.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&p, None).unwrap();
        for s in 1..=3 {
            log.write(&m(s)).unwrap();
            assert_eq!(read_metrics(&p).unwrap().len(), s, "still open, step {s}");
        }
    }

    #[test]
    fn resume_drops_steps_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("metrics.jsonl");
        let mut log = MetricsLog::open(&p, None).unwrap();
        for s in 1..=5 {
            log.write(&m(s)).unwrap();
        }
        drop(log);
        let mut log = MetricsLog::open(&p, Some(3)).unwrap();
        log.write(&m(4)).unwrap();
        let steps: Vec<usize> = read_metrics(&p).unwrap().iter().map(|m| m.step).collect();
        assert_eq!(steps, vec![1, 2, 3, 4]);
    }
}
