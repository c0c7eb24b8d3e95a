//! LongVideoBench validation, video input (`longvideobench_val_v`): `validation-*.parquet`,
//! videos `videos/<video_path>`, subtitles `subtitles/<subtitle_path>` (official:
//! `lmms_eval/tasks/longvideobench/utils.py`, `longvideobench_val_v.yaml`; the subtitle rule
//! reads its frame count and folder from `longvideobench_val_i.yaml`: 512 frames,
//! `subtitles/`).
//!
//! - Prompt (`longvideobench_doc_to_text`, `insert_interleave_subtitles: True`):
//!   `" This video's subtitles are listed below: \n" + subtitles + ".\n Select the best answer
//!   … Respond with only the letter of the correct option.\nQuestion: " + question`, the
//!   options that are not `"N/A"` as `"\n(X). option"`, then `"\n"` and the post prompt
//!   `"Answer with the option's letter from the given choices directly.\n"`. The subtitles
//!   are those lines ([`interleaved_subtitles`]) whose span (widened to 1 s around its middle
//!   when shorter) strictly contains one of the 512 uniform frame times of the
//!   `duration` (or the whole seconds when the video is shorter than 512 s).
//! - Parser (`parse_multi_choice_response`, from MMMU): bracketed letters `(X)`, else `X `,
//!   else `X.` in the reply padded with spaces; else, for replies of more than 5 words, an
//!   option's text found in the reply; the last-positioned candidate wins; nothing found:
//!   the official code draws `random.choice` (unseeded per question); hico draws
//!   [`crate::seeded_choice`] from the question id and marks [`Parsed::random`].
//! - Aggregation: accuracy as a fraction, per `duration_group` and per
//!   `question_category`, each and the overall rounded to 5 decimals (`round(acc, 5)`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::question::{Media, Read, letter};
use crate::rows::{parquet_shards, read_parquet};
use crate::score::{GroupScore, Scores, py_round5, tally, tally_by};
use crate::{Loaded, Parsed, Question, Task, seeded_choice};

/// Frames whose times select the subtitles (`max_num_frames` of `longvideobench_val_i.yaml`'s
/// `dataset_kwargs`, absent there, so the code's default).
pub const SUBTITLE_FRAMES: usize = 512;

/// `compute_frame_timestamps`.
pub fn frame_timestamps(duration: f64, max_num_frames: usize) -> Vec<f64> {
    if duration > max_num_frames as f64 {
        (0..max_num_frames)
            .map(|i| duration / max_num_frames as f64 * i as f64)
            .collect()
    } else {
        (0..duration as i64).map(|i| i as f64).collect()
    }
}

fn hms(s: &str) -> Option<f64> {
    let mut it = s.split(':');
    let (h, m, sec) = (it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    Some(
        (h.trim().parse::<i64>().ok()? * 3600 + m.trim().parse::<i64>().ok()? * 60) as f64
            + sec.trim().parse::<f64>().ok()?,
    )
}

/// `insert_subtitles_into_frames(..., add_image=False)`: the subtitle lines kept, joined by
/// `"\n"`. `subtitles` is the subtitle file's JSON list; entries are either
/// `{"timestamp": [start, end], "text": …}` (an `end` that is not a JSON float, e.g. `null`
/// or an integer, means the video's end) or `{"start": "HH:MM:SS.fff", "end": …, "line": …}`.
pub fn interleaved_subtitles(
    frame_times: &[f64],
    subtitles: &[Value],
    starting_timestamp: f64,
    duration: f64,
) -> std::result::Result<String, String> {
    let mut kept = Vec::new();
    for (i, sub) in subtitles.iter().enumerate() {
        let bad = |what: &str| format!("subtitle {i}: {what}");
        let (mut start, mut end, text) = if let Some(ts) = sub.get("timestamp") {
            let ts = ts
                .as_array()
                .ok_or_else(|| bad("`timestamp` is not a list"))?;
            let start = ts
                .first()
                .and_then(Value::as_f64)
                .ok_or_else(|| bad("no start"))?;
            let end = match ts.get(1) {
                Some(Value::Number(n)) if n.is_f64() => n.as_f64().unwrap_or(duration),
                _ => duration,
            };
            (
                start,
                end,
                sub.get("text")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("no `text`"))?,
            )
        } else {
            let get = |k: &str| {
                sub.get(k)
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad(&format!("no `{k}`")))
            };
            let start = hms(get("start")?).ok_or_else(|| bad("bad `start`"))?;
            let end = hms(get("end")?).ok_or_else(|| bad("bad `end`"))?;
            (start, end, get("line")?)
        };
        start -= starting_timestamp;
        end -= starting_timestamp;
        let middle = (start + end) / 2.0;
        if end - start < 1.0 {
            end = middle + 0.5;
            start = middle - 0.5;
        }
        if frame_times.iter().any(|&t| t < end && t > start) {
            kept.push(text);
        }
    }
    Ok(kept.join("\n"))
}

/// `longvideobench_doc_to_text` from the question, the five `option*` fields and the
/// interleaved subtitle text.
pub fn prompt(question: &str, options: &[String], subtitles: &str) -> String {
    let listed: Vec<String> = options
        .iter()
        .filter(|o| o.as_str() != "N/A")
        .enumerate()
        .map(|(i, o)| format!("({}). {o}", letter(i)))
        .collect();
    format!(
        " This video's subtitles are listed below: \n{subtitles}.\n Select the best answer to the following multiple-choice question based on the video and the subtitles. Respond with only the letter of the correct option.\nQuestion: {question}\n{}\nAnswer with the option's letter from the given choices directly.\n",
        listed.join("\n")
    )
}

pub(crate) fn load(dir: &Path, out: &mut Loaded) -> Result<()> {
    let shards = parquet_shards(dir, "validation");
    if shards.is_empty() {
        return Err(Error::MissingAnnotation {
            task: Task::LongvideobenchValV.name(),
            path: dir.join("validation-*.parquet"),
            hint: "LongVideoBench's validation-00000-of-00001.parquet",
        });
    }
    for row in read_parquet(&shards)? {
        let id = row.str("id")?.to_string();
        let options = (0..5)
            .map(|i| row.str(&format!("option{i}")).map(str::to_string))
            .collect::<Result<Vec<_>>>()?;
        let question = row.str("question")?;
        let correct = row.i64("correct_choice")?;
        let duration = row.f64("duration")?;
        let start = row.f64("starting_timestamp_for_subtitles")?;
        let mut groups = BTreeMap::new();
        groups.insert(
            "duration_group".to_string(),
            row.i64("duration_group")?.to_string(),
        );
        groups.insert(
            "question_category".to_string(),
            row.str("question_category")?.to_string(),
        );
        let video = dir.join("videos").join(row.str("video_path")?);
        if !video.exists() {
            out.skipped.push(Error::MissingMedia {
                id,
                what: "video",
                path: video,
            });
            continue;
        }
        let sub_name = row.str("subtitle_path")?;
        let sub_name = if sub_name.contains("_en.json") {
            sub_name.to_string()
        } else {
            sub_name.replace(".json", "_en.json")
        };
        let sub_path = dir.join("subtitles").join(sub_name);
        if !sub_path.exists() {
            out.skipped.push(Error::MissingMedia {
                id,
                what: "subtitle",
                path: sub_path,
            });
            continue;
        }
        let read_err = |msg: String| Error::Read {
            path: sub_path.clone(),
            msg,
        };
        let text = std::fs::read_to_string(&sub_path).map_err(|e| read_err(e.to_string()))?;
        let subs: Vec<Value> = serde_json::from_str(&text).map_err(|e| read_err(e.to_string()))?;
        let times = frame_timestamps(duration, SUBTITLE_FRAMES);
        let inter = interleaved_subtitles(&times, &subs, start, duration).map_err(read_err)?;
        out.questions.push(Question {
            task: Task::LongvideobenchValV,
            prompt: prompt(question, &options, &inter),
            id,
            video,
            media: Media {
                read: Read::Video,
                clip: None,
            },
            subtitle: Some(sub_path),
            gold: usize::try_from(correct)
                .map(|c| letter(c).to_string())
                .unwrap_or_default(),
            options,
            groups,
        });
    }
    Ok(())
}

/// `parse_multi_choice_response`: `Some(letter)`, or `None` where the official code draws at
/// random. `options` are the five `option*` fields; choices stop at the first `"N/A"`.
pub fn parse_choice(response: &str, options: &[String]) -> Option<String> {
    let choices: Vec<String> = options
        .iter()
        .take_while(|o| o.as_str() != "N/A")
        .enumerate()
        .map(|(i, _)| letter(i).to_string())
        .collect();
    let mut r = response;
    for c in [',', '.', '!', '?', ';', ':', '\''] {
        r = r.trim_matches(c);
    }
    let r = format!(" {r} ");
    let mut index_ans = true;
    let mut with_brackets = false;
    let mut cands: Vec<usize> = Vec::new();
    for (i, c) in choices.iter().enumerate() {
        if r.contains(&format!("({c})")) {
            cands.push(i);
            with_brackets = true;
        }
    }
    if cands.is_empty() {
        cands = (0..choices.len())
            .filter(|&i| r.contains(&format!("{} ", choices[i])))
            .collect();
    }
    if cands.is_empty() {
        cands = (0..choices.len())
            .filter(|&i| r.contains(&format!("{}.", choices[i])))
            .collect();
    }
    let lower = r.to_lowercase();
    if cands.is_empty() && r.split_whitespace().count() > 5 {
        for (i, option) in options.iter().enumerate().take(choices.len()) {
            if lower.contains(&option.to_lowercase()) {
                cands.push(i);
                index_ans = false;
            }
        }
    }
    let pos = |i: usize| -> i64 {
        let found = if !index_ans {
            lower.rfind(&options[i].to_lowercase())
        } else if with_brackets {
            r.rfind(&format!("({})", choices[i]))
        } else {
            r.rfind(&format!(" {} ", choices[i]))
        };
        found.map_or(-1, |p| p as i64)
    };
    match cands.len() {
        0 => None,
        1 => Some(choices[cands[0]].clone()),
        _ => {
            // np.argmax: the first of the maxima.
            let mut best = cands[0];
            for &c in &cands[1..] {
                if pos(c) > pos(best) {
                    best = c;
                }
            }
            Some(choices[best].clone())
        }
    }
}

pub(crate) fn parse(q: &Question, response: &str) -> Parsed {
    let (answer, random) = match parse_choice(response, &q.options) {
        Some(a) => (a, false),
        None => {
            let choices: Vec<String> = q
                .options
                .iter()
                .take_while(|o| o.as_str() != "N/A")
                .enumerate()
                .map(|(i, _)| letter(i).to_string())
                .collect();
            (seeded_choice(&q.id, &choices).to_string(), true)
        }
    };
    Parsed {
        correct: answer == q.gold,
        answer,
        answered: true,
        random,
    }
}

pub(crate) fn aggregate(results: &[(&Question, &Parsed)]) -> Scores {
    let acc = |c: usize, n: usize| if n > 0 { c as f64 / n as f64 } else { 0.0 };
    let mut groups = Vec::new();
    for field in ["duration_group", "question_category"] {
        let mut by: Vec<_> = tally_by(results, field).into_iter().collect();
        if field == "duration_group" {
            by.sort_by_key(|(v, _)| v.parse::<i64>().unwrap_or(i64::MAX));
        }
        for (value, t) in by {
            groups.push(GroupScore::new(
                field,
                &value,
                t,
                py_round5(acc(t.correct, t.n)),
                true,
            ));
        }
    }
    // calculate_ins_level_acc: sum of acc * n over the subsets in the order they first
    // appear (each question's duration group, then its category), over the sum of n.
    let mut order: Vec<String> = Vec::new();
    for (q, _) in results {
        for field in ["duration_group", "question_category"] {
            if let Some(v) = q.groups.get(field) {
                let key = format!("{field}\u{0}{v}");
                if !order.contains(&key) {
                    order.push(key);
                }
            }
        }
    }
    let (mut weighted, mut total) = (0.0f64, 0usize);
    for key in &order {
        let (field, value) = key.split_once('\u{0}').expect("key");
        if let Some(g) = groups.iter().find(|g| g.field == field && g.value == value) {
            weighted += acc(g.correct, g.n) * g.n as f64;
            total += g.n;
        }
    }
    let all = tally(results);
    Scores {
        task: Task::LongvideobenchValV,
        metric: Task::LongvideobenchValV.metric().to_string(),
        score: if total > 0 {
            py_round5(weighted / total as f64)
        } else {
            0.0
        },
        n: all.n,
        answered: all.answered,
        correct: all.correct,
        groups,
    }
}
