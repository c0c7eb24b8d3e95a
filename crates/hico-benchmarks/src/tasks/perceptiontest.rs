//! PerceptionTest validation, multiple choice (`perceptiontest_val_mc`):
//! `mc_question_val/validation-*.parquet`, videos `videos/<video_name>.mp4` (official:
//! `lmms_eval/tasks/perceptiontest/val/utils.py`, `perceptiontest_mc.yaml`,
//! `_default_template_yaml`).
//!
//! - Prompt (`perceptiontest_val_doc_to_text`): `"\nQuestion: " + question`, then
//!   `"\n(A). "`, `"\n(B). "`, `"\n(C). "` before the options (a fourth or later option would
//!   also be labelled `(C)`), then `"\nOnly give the best option."`.
//! - Settings: the yaml sets no `generation_kwargs`, so the wrapper's `max_new_tokens` 1024.
//! - Parser: the first stand-alone capital A–D (`\b([A-D])\b`) of the stripped reply, its
//!   index compared with `answer_id`; nothing found is wrong.
//! - Aggregation: correct / n, a fraction. The official code reports no breakdown; hico adds
//!   `area` and `reasoning` (not official).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::question::{Media, Read, letter, py_strip};
use crate::rows::{parquet_shards, read_parquet};
use crate::score::{GroupScore, Scores, tally, tally_by};
use crate::{Loaded, Parsed, Question, Task};

/// `perceptiontest_val_doc_to_text`.
pub fn prompt(question: &str, options: &[String]) -> String {
    let mut q = question.to_string();
    for (i, o) in options.iter().enumerate() {
        q.push_str(&format!("\n({}). {o}", letter(i.min(2))));
    }
    format!("\nQuestion: {q}\nOnly give the best option.")
}

pub(crate) fn load(dir: &Path, out: &mut Loaded) -> Result<()> {
    let shards = parquet_shards(&dir.join("mc_question_val"), "validation");
    if shards.is_empty() {
        return Err(Error::MissingAnnotation {
            task: Task::PerceptiontestValMc.name(),
            path: dir.join("mc_question_val/validation-*.parquet"),
            hint: "PerceptionTest_Val's mc_question_val/validation-00000-of-00001.parquet",
        });
    }
    for row in read_parquet(&shards)? {
        let id = format!("mc_question_val/{}", row.index);
        let options = row.strs("options")?;
        let question = row.str("question")?;
        let answer = row.i64("answer_id")?;
        let mut groups = BTreeMap::new();
        for field in ["area", "reasoning"] {
            if row.has(field) {
                groups.insert(field.to_string(), row.str(field)?.to_string());
            }
        }
        let video = dir
            .join("videos")
            .join(format!("{}.mp4", row.str("video_name")?));
        if !video.exists() {
            out.skipped.push(Error::MissingMedia {
                id,
                what: "video",
                path: video,
            });
            continue;
        }
        out.questions.push(Question {
            task: Task::PerceptiontestValMc,
            id,
            video,
            media: Media {
                read: Read::Video,
                clip: None,
            },
            subtitle: None,
            prompt: prompt(question, &options),
            gold: usize::try_from(answer)
                .map(|a| letter(a).to_string())
                .unwrap_or_default(),
            options,
            groups,
        });
    }
    Ok(())
}

/// The official parser: the first stand-alone capital A–D of the stripped reply, or "".
pub fn extract_letter(response: &str) -> String {
    static L: OnceLock<Regex> = OnceLock::new();
    let re = L.get_or_init(|| Regex::new(r"\b([A-D])\b").expect("static regex"));
    re.captures(py_strip(response))
        .map(|c| c[1].to_string())
        .unwrap_or_default()
}

pub(crate) fn parse(q: &Question, response: &str) -> Parsed {
    let answer = extract_letter(response);
    Parsed {
        correct: !answer.is_empty() && answer == q.gold,
        answer,
        answered: true,
        random: false,
    }
}

pub(crate) fn aggregate(results: &[(&Question, &Parsed)]) -> Scores {
    let acc = |c: usize, n: usize| if n > 0 { c as f64 / n as f64 } else { 0.0 };
    let mut groups = Vec::new();
    for field in ["area", "reasoning"] {
        for (value, t) in tally_by(results, field) {
            groups.push(GroupScore::new(
                field,
                &value,
                t,
                acc(t.correct, t.n),
                false,
            ));
        }
    }
    let all = tally(results);
    Scores {
        task: Task::PerceptiontestValMc,
        metric: Task::PerceptiontestValMc.metric().to_string(),
        score: acc(all.correct, all.n),
        n: all.n,
        answered: all.answered,
        correct: all.correct,
        groups,
    }
}
