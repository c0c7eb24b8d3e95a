//! MLVU multiple choice (`mlvu_mc`): 7 sub-tasks, `json/<n_name>.json` each, videos under
//! `video/<n_name>/` (official: `lmms_eval/tasks/mlvu_mc/utils.py`, `mlvu_mc_*.yaml`).
//!
//! - Prompt (`mlvu_mc_doc_to_text`): `"Question:" + question + "\nOption:\n"` (no space after
//!   the colon), `"(X) option\n"` per candidate, then the post prompt
//!   `"Answer with the option's letter from the given choices directly."`.
//! - Parser and aggregation: [`super::subtask_parse`], [`crate::score::subtask_scores`]
//!   (the same `mcq_acc` as MVBench; a row whose answer is not among its candidates — two in
//!   `2_needle` — is scored 0).

use std::path::Path;

use super::{Subtask, load_subtask};
use crate::error::Result;
use crate::question::{Read, letter};
use crate::{Loaded, Task};

/// The sub-tasks in the order of the official group yaml (`mlvu_mc.yaml`).
pub const ORDER: [&str; 7] = [
    "4_count",
    "3_ego",
    "2_needle",
    "5_order",
    "1_plotQA",
    "6_anomaly_reco",
    "7_topic_reasoning",
];

/// `mlvu_mc_doc_to_text`.
pub fn prompt(question: &str, candidates: &[String]) -> String {
    let mut options = String::new();
    for (i, c) in candidates.iter().enumerate() {
        options.push_str(&format!("({}) {c}\n", letter(i)));
    }
    format!(
        "Question:{question}\nOption:\n{options}Answer with the option's letter from the given choices directly."
    )
}

pub(crate) fn load(dir: &Path, out: &mut Loaded) -> Result<()> {
    for subset in ORDER {
        let media = |video: &str| vec![(dir.join("video").join(subset).join(video), Read::Video)];
        let s = Subtask {
            task: Task::MlvuMc,
            subset,
            file: dir.join("json").join(format!("{subset}.json")),
            media: &media,
            prompt: &prompt,
        };
        load_subtask(&s, "MLVU json/<n_name>.json", out)?;
    }
    Ok(())
}
