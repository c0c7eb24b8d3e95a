//! What a loaded benchmark question is, how its media is read, and what a parsed reply is.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::Task;

/// How the official wrapper reads a question's visual input (`media_dict` of the task's
/// `doc_to_visual`, passed to the release's `chat()`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "read", rename_all = "snake_case")]
pub enum Read {
    /// A video file, decoded (`video_read_type: decord`; `.avi` files go through PyAV in the
    /// release's reader).
    Video,
    /// A folder of frame images (`video_read_type: img`), sorted by the number after the last
    /// `_` of each file name (`…_(\d+).jpg|jpeg|png`), at the frame rate the official reader
    /// assumes: 3 for a path containing `tvqa` (MVBench's episodic_reasoning), 1 otherwise.
    Frames {
        /// Frames per second the reader assumes.
        fps: f64,
    },
}

/// A question's visual input: the path, how to read it, and the clip to sample from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Media {
    /// How to read [`Question::video`].
    #[serde(flatten)]
    pub read: Read,
    /// `(start, end)` in seconds when the row has `start`/`end` (MVBench's STAR, STA and TVQA
    /// sub-tasks): only that clip is sampled.
    pub clip: Option<(f64, f64)>,
}

/// One benchmark question, ready to run: media paths, the prompt text exactly as the task's
/// `doc_to_text` builds it, options, gold answer and the fields results are grouped by.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// The task it belongs to.
    pub task: Task,
    /// Unique within the task: Video-MME's `question_id`, LongVideoBench's `id`, otherwise
    /// `<subset>/<row index within that subset's file>` (`action_antonym/1`, `4_count/0`,
    /// `lvbench_tv/0`, `mc_question_val/3`).
    pub id: String,
    /// The video file or frame folder (the folder given to `load` joined with the published
    /// relative path).
    pub video: PathBuf,
    /// How to read `video`.
    pub media: Media,
    /// The subtitle file the prompt was built from, where the task uses one and it exists.
    pub subtitle: Option<PathBuf>,
    /// The question text exactly as the official `doc_to_text` returns it (pre/post prompts,
    /// options and subtitles included; before the chat template and the time message).
    pub prompt: String,
    /// The options as the row gives them (without the letters the prompt adds, except where
    /// the data itself carries them, e.g. Video-MME's `A. …`, LVBench's `(A) …`).
    pub options: Vec<String>,
    /// The gold letter (`A`, `B`, …). Empty when the row's answer is not among its options
    /// (two MLVU needle rows): the official code scores such a question 0 whatever the reply.
    pub gold: String,
    /// The fields results are broken down by (e.g. Video-MME `duration`, `domain`,
    /// `sub_category`, `task_type`; MVBench/MLVU/LVBench `subset`).
    pub groups: BTreeMap<String, String>,
}

/// A reply scored by the task's official parser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parsed {
    /// What the parser extracted: a letter, or (MVBench/MLVU/LVBench, when no letter is found)
    /// the normalised reply text the official code compares with the gold letter; empty when
    /// nothing was extracted.
    pub answer: String,
    /// Whether it counts as correct.
    pub correct: bool,
    /// Whether the question counts in the denominator. False only for MVBench, MLVU and LVBench
    /// when the reply is empty: their official aggregation skips those.
    pub answered: bool,
    /// The official parser would have drawn a random letter here (LongVideoBench, nothing
    /// parsed); hico draws it deterministically from the question id
    /// ([`crate::seeded_choice`]).
    pub random: bool,
}

/// Generation and sampling settings of a task as the official scripts run it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// `max_new_tokens` (the task yaml's `generation_kwargs`, or the wrapper's default 1024
    /// where the yaml sets none).
    pub max_new_tokens: usize,
    /// `max_num_frames` of the task's `scripts/eval_*.sh` (the model's frame budget).
    pub max_num_frames: usize,
    /// Greedy decoding: temperature 0, `do_sample` false, one beam (every task).
    pub greedy: bool,
    /// The official metric's scale: 100 for a percentage, 1 for a fraction.
    pub scale: f64,
}

/// Python's `str.strip()` (what the official wrapper applies to every reply): strips
/// Unicode whitespace, which in Python also includes the separators U+001C..U+001F.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// The deterministic stand-in for the official `random.choice(all_choices)`: FNV-1a (64 bit)
/// of the question id, modulo the number of choices. Same id, same letter, on every machine.
pub fn seeded_choice<'a>(id: &str, choices: &'a [String]) -> &'a str {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in id.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    &choices[(h % choices.len() as u64) as usize]
}

/// The letter of option `i` (`A` for 0), as `string.ascii_uppercase[i]` / `chr(65 + i)`.
pub(crate) fn letter(i: usize) -> char {
    (b'A' + i as u8) as char
}

/// The gold letter: the first option equal to `answer` (as the official loops do), or "".
pub(crate) fn gold_of(options: &[String], answer: &str) -> String {
    options
        .iter()
        .position(|o| o == answer)
        .map(|i| letter(i).to_string())
        .unwrap_or_default()
}
