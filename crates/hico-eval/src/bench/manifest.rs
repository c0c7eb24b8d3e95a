//! The files of a built benchmark set: `manifest.json` (every question with its answer and
//! needle layout) and `llava.json` (the same questions as LLaVA-style training data).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::spec::BenchSpec;
use crate::{EvalError, read_json, write_json};

/// The sentence that ends every question (as the reference's multiple-choice prompts).
pub const ANSWER_INSTRUCTION: &str =
    "Answer with the option's letter from the given choices directly.";

/// Option letters, in order.
pub const LETTERS: [&str; 4] = ["A", "B", "C", "D"];

/// What a needle clip is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeedleRole {
    /// The single needle of NIAH.
    Needle,
    /// Hop `i` of a multi-hop chain (0 is the first, at frame 0).
    Hop(usize),
    /// Off the chain, with a `NEXT` clue.
    Distractor,
    /// Off the chain, looking final (`END` and a shape).
    Decoy,
}

/// One inserted needle clip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Needle {
    /// First frame of the clip in the video.
    pub start: usize,
    /// Its role.
    pub role: NeedleRole,
    /// Background colour name.
    pub background: String,
    /// The text drawn on it (lines joined by a space).
    pub text: String,
    /// `COLOUR SHAPE` of the drawn shape, if any.
    pub shape: Option<String>,
}

/// One question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Unique id, also the video's file stem.
    pub id: String,
    /// The video, relative to the set directory.
    pub video: String,
    /// Haystack length in frames.
    pub frames: usize,
    /// Depth of the (final) needle in `[0, 1]`.
    pub depth: f64,
    /// The full question: text, the four options, [`ANSWER_INSTRUCTION`].
    pub question: String,
    /// The four option texts, in letter order.
    pub options: Vec<String>,
    /// The correct letter.
    pub answer: String,
    /// The correct option's text.
    pub answer_text: String,
    /// The needles in the video, in time order.
    pub needles: Vec<Needle>,
}

/// A built set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The spec it was built from.
    pub spec: BenchSpec,
    /// Questions.
    pub samples: Vec<Sample>,
    /// The code that built it (`hico_eval::version::code_id`): a cached set is rebuilt
    /// when it differs.
    #[serde(default)]
    pub code: String,
}

impl Manifest {
    /// The manifest file of a set directory.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join("manifest.json")
    }

    /// Load `DIR/manifest.json`.
    pub fn load(dir: &Path) -> Result<Self, EvalError> {
        read_json(&Self::path(dir))
    }

    /// Write `manifest.json` and `llava.json` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), EvalError> {
        std::fs::create_dir_all(dir).map_err(EvalError::io(dir))?;
        write_json(&Self::path(dir), self)?;
        write_json(&dir.join("llava.json"), &self.llava())
    }

    /// The questions as LLaVA-style records: `{"id", "video", "conversations": [{"from":
    /// "human", "value": "<image>\n…"}, {"from": "gpt", "value": LETTER}]}` with `video`
    /// relative to the set directory (where `llava.json` lives).
    pub fn llava(&self) -> serde_json::Value {
        self.samples
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id,
                    "video": s.video,
                    "conversations": [
                        {"from": "human", "value": format!("<image>\n{}", s.question)},
                        {"from": "gpt", "value": s.answer},
                    ],
                })
            })
            .collect()
    }
}

/// The question text: `stem`, one `X. option` line per option, the instruction.
pub fn question_text(stem: &str, options: &[String]) -> String {
    let mut q = stem.to_string();
    for (l, o) in LETTERS.iter().zip(options) {
        q += &format!("\n{l}. {o}");
    }
    q + "\n" + ANSWER_INSTRUCTION
}
