//! One module per benchmark: its folder layout, prompt rule, parser and aggregation. The
//! shared pieces of the three JSON-per-sub-task benchmarks (MVBench, MLVU, LVBench) are here.

pub mod longvideobench;
pub mod lvbench;
pub mod mlvu;
pub mod mvbench;
pub mod perceptiontest;
pub mod videomme;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::question::{Media, Read, gold_of};
use crate::rows::{Row, read_json};
use crate::{Loaded, Parsed, Question, Task, mcq};

/// How a sub-task's rows become questions.
pub(crate) struct Subtask<'a> {
    pub task: Task,
    /// The sub-task's dataset name (the id prefix and the `subset` group value).
    pub subset: &'a str,
    /// Its annotation file.
    pub file: PathBuf,
    /// Candidate media paths for a row's `video` field, first existing wins.
    pub media: &'a dyn Fn(&str) -> Vec<(PathBuf, Read)>,
    /// The prompt from (question, candidates).
    pub prompt: &'a dyn Fn(&str, &[String]) -> String,
}

/// Load one sub-task file (`candidates`, `answer`, `question`, `video`, optional
/// `start`/`end`) into `out`.
pub(crate) fn load_subtask(s: &Subtask<'_>, hint: &'static str, out: &mut Loaded) -> Result<()> {
    if !s.file.is_file() {
        return Err(Error::MissingAnnotation {
            task: s.task.name(),
            path: s.file.clone(),
            hint,
        });
    }
    for row in read_json(&s.file)? {
        let q = subtask_question(s, &row)?;
        match q {
            Ok(q) => out.questions.push(q),
            Err(e) => out.skipped.push(e),
        }
    }
    Ok(())
}

fn subtask_question(s: &Subtask<'_>, row: &Row) -> Result<Result<Question>> {
    let id = format!("{}/{}", s.subset, row.index);
    let options = row.strs("candidates")?;
    let answer = row.str("answer")?;
    let question = row.str("question")?;
    let video = row.str("video")?;
    let clip = if row.has("start") {
        Some((row.f64("start")?, row.f64("end")?))
    } else {
        None
    };
    let candidates = (s.media)(video);
    let (path, read) = match candidates.iter().find(|(p, _)| p.exists()) {
        Some(c) => c.clone(),
        None => {
            let (p, read) = candidates[0].clone();
            let what = if matches!(read, Read::Frames { .. }) {
                "frame folder"
            } else {
                "video"
            };
            return Ok(Err(Error::MissingMedia { id, what, path: p }));
        }
    };
    let mut groups = BTreeMap::new();
    groups.insert("subset".to_string(), s.subset.to_string());
    Ok(Ok(Question {
        task: s.task,
        id,
        video: path,
        media: Media { read, clip },
        subtitle: None,
        prompt: (s.prompt)(question, &options),
        gold: gold_of(&options, answer),
        options,
        groups,
    }))
}

/// The frame rate the official frame-folder reader assumes for a path.
pub(crate) fn frames_fps(path: &Path) -> f64 {
    if path.to_string_lossy().to_lowercase().contains("tvqa") {
        3.0
    } else {
        1.0
    }
}

/// MVBench, MLVU and LVBench: the official `mcq_acc` against the gold letter; an empty
/// reply is not counted (their aggregation skips `pred_answer == ""`).
pub(crate) fn subtask_parse(q: &Question, response: &str) -> Parsed {
    let answer = mcq::process(response);
    let correct = !q.gold.is_empty() && answer == mcq::process(&q.gold);
    Parsed {
        answer,
        correct,
        answered: !response.is_empty(),
        random: false,
    }
}
