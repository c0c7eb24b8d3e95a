//! Video-MME (`videomme`, `videomme_w_subtitle`): `videomme/test-*.parquet`, videos
//! `videos/<videoID>.mp4` (or `.MP4`, `.mkv`), subtitles `subtitle/<videoID>.srt` (official:
//! `lmms_eval/tasks/videomme/utils.py`, `videomme.yaml`, `videomme_w_subtitle.yaml`).
//!
//! - Prompt without subtitles (`videomme_doc_to_text`): the fixed instruction
//!   [`FRAMES_INSTRUCTION`], `"\nQuestion: " + question + "\nOption:\n"`, the options joined
//!   by `"\n"` (they carry their letters, `A. …`), then the yaml's post prompt
//!   `"\nAnswer with the option's letter from the given choices directly."`.
//! - With subtitles (`videomme_doc_to_text_subtitle`, the yaml's `gemini_api_flag: "full
//!   subtitle"` branch): the text inside `<font color="white" size=".72c">…</font>` of each
//!   line of the .srt (first match per line), joined by `"\n"`, after `"This video's subtitles
//!   are listed below: \n"`; then `"\n"`, the instruction (the subtitle variant when any text
//!   was found), `"\n"`, the question and options, and `"\nThe best answer is:"`. A video
//!   without .srt gets no subtitle part (the official code prints a notice and goes on).
//! - Parser (`extract_characters_regex`): strip, delete the answer prefixes, the first capital
//!   A–D anywhere is the answer (so "Based on …" answers B), else none.
//! - Aggregation: `100 * correct / n` overall; the same per duration, domain, sub-category
//!   and task type (logged by the official code).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use regex::Regex;

use crate::error::{Error, Result};
use crate::question::{Media, Read, py_strip};
use crate::rows::{parquet_shards, read_parquet};
use crate::score::{GroupScore, Scores, tally, tally_by};
use crate::{Loaded, Parsed, Question, Task, first_existing};

/// The instruction of the prompt without subtitles.
pub const FRAMES_INSTRUCTION: &str = "These are the frames of a video. Select the best answer to the following multiple-choice question based on the video. Respond with only the letter (A, B, C, or D) of the correct option.";
/// The instruction when subtitle text is in the prompt.
pub const SUBTITLE_INSTRUCTION: &str = "These are the frames and subtitles of a video. Select the best answer to the following multiple-choice question based on the video and the subtitles. Respond with only the letter (A, B, C, or D) of the correct option.";

/// The group fields, as the official aggregation logs them: (question field, group name).
pub const GROUPS: [(&str, &str); 4] = [
    ("duration", "duration"),
    ("domain", "domain"),
    ("sub_category", "sub_category"),
    ("task_type", "task_type"),
];

fn question_block(question: &str, options: &[String]) -> String {
    format!("Question: {question}\nOption:\n{}", options.join("\n"))
}

/// `videomme_doc_to_text`.
pub fn prompt(question: &str, options: &[String]) -> String {
    format!(
        "{FRAMES_INSTRUCTION}\n{}\nAnswer with the option's letter from the given choices directly.",
        question_block(question, options)
    )
}

/// The subtitle text the `full subtitle` branch extracts from an .srt file's content.
pub fn srt_text(content: &str) -> String {
    static FONT: OnceLock<Regex> = OnceLock::new();
    let re = FONT.get_or_init(|| {
        Regex::new(r#"<font color="white" size=".72c">(.*?)</font>"#).expect("static regex")
    });
    // Python's text mode: universal newlines.
    let content = content.replace("\r\n", "\n").replace('\r', "\n");
    content
        .split_inclusive('\n')
        .filter_map(|line| re.captures(line).map(|c| c[1].to_string()))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `videomme_doc_to_text_subtitle`; `srt` is the subtitle file's content, `None` when the
/// video has no .srt.
pub fn prompt_with_subtitle(question: &str, options: &[String], srt: Option<&str>) -> String {
    let (header, text) = match srt {
        Some(c) => ("This video's subtitles are listed below: \n", srt_text(c)),
        None => ("", String::new()),
    };
    let instruction = if text.is_empty() {
        FRAMES_INSTRUCTION
    } else {
        SUBTITLE_INSTRUCTION
    };
    format!(
        "{header}{text}\n{instruction}\n{}\nThe best answer is:",
        question_block(question, options)
    )
}

pub(crate) fn load(task: Task, dir: &Path, out: &mut Loaded) -> Result<()> {
    let shards = parquet_shards(&dir.join("videomme"), "test");
    if shards.is_empty() {
        return Err(Error::MissingAnnotation {
            task: task.name(),
            path: dir.join("videomme/test-*.parquet"),
            hint: "Video-MME's videomme/test-00000-of-00001.parquet",
        });
    }
    for row in read_parquet(&shards)? {
        let id = row.str("question_id")?.to_string();
        let video_id = row.str("videoID")?;
        let options = row.strs("options")?;
        let question = row.str("question")?;
        let gold = row.str("answer")?.to_string();
        let mut groups = BTreeMap::new();
        for (col, name) in GROUPS {
            groups.insert(name.to_string(), row.str(col)?.to_string());
        }
        let videos = dir.join("videos");
        let (video, found) =
            first_existing(&["mp4", "MP4", "mkv"].map(|e| videos.join(format!("{video_id}.{e}"))));
        if !found {
            out.skipped.push(Error::MissingMedia {
                id,
                what: "video",
                path: video,
            });
            continue;
        }
        let (prompt, subtitle) = if task == Task::VideommeWSubtitle {
            let (srt, found) = first_existing(
                &["subtitle", "subtitles"].map(|d| dir.join(d).join(format!("{video_id}.srt"))),
            );
            if found {
                let content = std::fs::read_to_string(&srt).map_err(|e| Error::Read {
                    path: srt.clone(),
                    msg: e.to_string(),
                })?;
                (
                    prompt_with_subtitle(question, &options, Some(&content)),
                    Some(srt),
                )
            } else {
                (prompt_with_subtitle(question, &options, None), None)
            }
        } else {
            (prompt(question, &options), None)
        };
        out.questions.push(Question {
            task,
            id,
            video,
            media: Media {
                read: Read::Video,
                clip: None,
            },
            subtitle,
            prompt,
            options,
            gold,
            groups,
        });
    }
    Ok(())
}

/// The answer prefixes the official parser deletes, in order. Two pairs lack a comma in the
/// official list and are therefore one concatenated string each.
pub const PREFIXES: [&str; 6] = [
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option isThe correct option is",
    "Best answer:Best option:",
];

/// `extract_characters_regex`: the letter, or "".
pub fn extract_letter(response: &str) -> String {
    let mut s = py_strip(response).to_string();
    for p in PREFIXES {
        s = s.replace(p, "");
    }
    s.chars()
        .find(|c| matches!(c, 'A'..='D'))
        .map(|c| c.to_string())
        .unwrap_or_default()
}

pub(crate) fn parse(q: &Question, response: &str) -> Parsed {
    let answer = extract_letter(response);
    Parsed {
        correct: answer == q.gold,
        answer,
        answered: true,
        random: false,
    }
}

pub(crate) fn aggregate(task: Task, results: &[(&Question, &Parsed)]) -> Scores {
    let pct = |c: usize, n: usize| {
        if n > 0 {
            100.0 * c as f64 / n as f64
        } else {
            0.0
        }
    };
    let all = tally(results);
    let mut groups = Vec::new();
    for (_, field) in GROUPS {
        for (value, t) in tally_by(results, field) {
            groups.push(GroupScore::new(field, &value, t, pct(t.correct, t.n), true));
        }
    }
    Scores {
        task,
        metric: task.metric().to_string(),
        score: pct(all.correct, all.n),
        n: all.n,
        answered: all.answered,
        correct: all.correct,
        groups,
    }
}
