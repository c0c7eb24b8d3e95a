//! `predictions.jsonl`: one line per question, written (and flushed) as it finishes, so a
//! killed run resumes and redoes at most the question in flight. A torn last line (a kill
//! mid-write) is cut off on resume.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use hico_benchmarks::{Media, Parsed, Question, Read, Task};
use serde::{Deserialize, Serialize};

use crate::EvalError;

/// One answered question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Question id (unique within the task).
    pub id: String,
    /// The task.
    pub task: Task,
    /// The question text exactly as the task's `doc_to_text` builds it (before the chat
    /// template and the time message).
    pub prompt: String,
    /// The generated text, stripped as the official wrapper strips it.
    pub response: String,
    /// What the task's parser extracted.
    pub parsed: String,
    /// Whether the parser's answer is the gold one.
    pub correct: bool,
    /// Whether the question counts in the denominator (the official aggregation skips empty
    /// replies in some tasks).
    pub answered: bool,
    /// The official parser would have drawn a random letter (hico's is seeded by the id).
    pub random: bool,
    /// The gold letter.
    pub gold: String,
    /// The options as the row gives them.
    pub options: Vec<String>,
    /// The fields results are broken down by.
    pub groups: BTreeMap<String, String>,
    /// The video file (or frame folder).
    pub video: PathBuf,
    /// Sampled frames.
    pub frames: usize,
    /// Visual tokens the LLM received.
    pub visual_tokens: usize,
    /// Seconds for this question (decode wait, encode, prefill, generation).
    pub seconds: f64,
}

impl Prediction {
    /// The question and parse result as hico-benchmarks aggregates them.
    pub fn scored(&self) -> (Question, Parsed) {
        let q = Question {
            task: self.task,
            id: self.id.clone(),
            video: self.video.clone(),
            media: Media {
                read: Read::Video,
                clip: None,
            },
            subtitle: None,
            prompt: self.prompt.clone(),
            options: self.options.clone(),
            gold: self.gold.clone(),
            groups: self.groups.clone(),
        };
        let p = Parsed {
            answer: self.parsed.clone(),
            correct: self.correct,
            answered: self.answered,
            random: self.random,
        };
        (q, p)
    }
}

/// Read the predictions of a run folder (none when the file is absent). Every line but the
/// last ends with a newline; a last line without one was torn by a kill: with `repair` (a
/// resuming run) it is cut off the file and its question runs again, otherwise it is read
/// when it parses. Any other line that does not parse is an error naming the file.
pub fn read(dir: &Path, repair: bool) -> Result<Vec<Prediction>, EvalError> {
    let path = dir.join("predictions.jsonl");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EvalError::io(&path)(e)),
    };
    let (whole, torn) = match text.rfind('\n') {
        Some(i) => text.split_at(i + 1),
        None => ("", text.as_str()),
    };
    let json = |line: &str| {
        serde_json::from_str::<Prediction>(line).map_err(|source| EvalError::Json {
            path: path.clone(),
            source,
        })
    };
    let mut out = whole.lines().map(json).collect::<Result<Vec<_>, _>>()?;
    if !torn.is_empty() {
        if repair {
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(EvalError::io(&path))?;
            f.set_len(whole.len() as u64)
                .map_err(EvalError::io(&path))?;
        } else {
            out.push(json(torn)?);
        }
    }
    let mut seen = BTreeSet::new();
    if let Some(p) = out.iter().find(|p| !seen.insert(p.id.clone())) {
        return Err(EvalError::Spec {
            path,
            key: "id".into(),
            message: format!("question `{}` appears twice", p.id),
        });
    }
    Ok(out)
}

/// Appends predictions, one flushed line each.
pub struct Writer {
    file: std::fs::File,
    path: PathBuf,
}

impl Writer {
    /// Open (create or append to) `dir/predictions.jsonl`.
    pub fn open(dir: &Path) -> Result<Self, EvalError> {
        let path = dir.join("predictions.jsonl");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(EvalError::io(&path))?;
        Ok(Self { file, path })
    }

    /// Write one line and flush it to the OS.
    pub fn push(&mut self, p: &Prediction) -> Result<(), EvalError> {
        let mut line = serde_json::to_string(p).map_err(|source| EvalError::Json {
            path: self.path.clone(),
            source,
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(EvalError::io(&self.path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(id: &str) -> Prediction {
        Prediction {
            id: id.into(),
            task: Task::Mvbench,
            prompt: "Q".into(),
            response: "(A) x".into(),
            parsed: "A".into(),
            correct: true,
            answered: true,
            random: false,
            gold: "A".into(),
            options: vec!["x".into(), "y".into()],
            groups: [("subset".to_string(), "s".to_string())].into(),
            video: "v.mp4".into(),
            frames: 8,
            visual_tokens: 32,
            seconds: 0.5,
        }
    }

    #[test]
    fn a_torn_last_line_is_cut_on_resume_and_a_broken_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = Writer::open(dir.path()).unwrap();
        w.push(&pred("a/0")).unwrap();
        w.push(&pred("a/1")).unwrap();
        drop(w);
        let path = dir.path().join("predictions.jsonl");
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("{\"id\": \"a/2\", \"ta");
        std::fs::write(&path, &text).unwrap();
        assert!(read(dir.path(), false).is_err());
        let got = read(dir.path(), true).unwrap();
        assert_eq!(got.len(), 2);
        assert!(std::fs::read_to_string(&path).unwrap().ends_with("}\n"));
        let mut w = Writer::open(dir.path()).unwrap();
        w.push(&pred("a/2")).unwrap();
        assert_eq!(read(dir.path(), false).unwrap().len(), 3);
        let (q, p) = got[0].scored();
        assert_eq!((q.id.as_str(), p.correct), ("a/0", true));
        // A broken line that is not the last is an error, also when resuming.
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replacen("\"a/1\"", "\"a/1", 1);
        std::fs::write(&path, text).unwrap();
        assert!(read(dir.path(), true).is_err());
    }
}
