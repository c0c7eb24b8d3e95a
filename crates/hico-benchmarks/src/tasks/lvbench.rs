//! LVBench (`lvbench`): 6 video-type sub-tasks, `json/lvbench_clean_<type>.json` each, media
//! as frame folders `frames/<video>/` (official: `lmms_eval/tasks/lvbench/utils.py`,
//! `lvbench_*.yaml`; the yaml notes the frames were extracted to avoid running out of
//! memory; the official frame reader assumes 1 fps for them).
//!
//! - Prompt (`lvbench_mc_doc_to_text`): `question + "\n"`, `"X. option\n"` per candidate (the
//!   candidates already carry `(A) …`, so the prompt reads `A. (A) …`), then
//!   `"Answer with the option's letter from the given choices directly."`.
//! - Media: `frames/<video>` (official), else `videos/<video>.mp4` (a hico extension for
//!   those who keep the videos; decoded as a video).
//! - Parser and aggregation: [`super::subtask_parse`], [`crate::score::subtask_scores`].

use std::path::Path;

use super::{Subtask, load_subtask};
use crate::error::Result;
use crate::question::{Read, letter};
use crate::{Loaded, Task};

/// The sub-tasks (dataset names) in the order of the official group yaml (`lvbench.yaml`).
pub const ORDER: [&str; 6] = [
    "lvbench_cartoon",
    "lvbench_documentary",
    "lvbench_live",
    "lvbench_selfmedia",
    "lvbench_sport",
    "lvbench_tv",
];

/// `lvbench_mc_doc_to_text`.
pub fn prompt(question: &str, candidates: &[String]) -> String {
    let mut options = String::new();
    for (i, c) in candidates.iter().enumerate() {
        options.push_str(&format!("{}. {c}\n", letter(i)));
    }
    format!("{question}\n{options}Answer with the option's letter from the given choices directly.")
}

pub(crate) fn load(dir: &Path, out: &mut Loaded) -> Result<()> {
    for subset in ORDER {
        let kind = subset.trim_start_matches("lvbench_");
        let media = |video: &str| {
            vec![
                (dir.join("frames").join(video), Read::Frames { fps: 1.0 }),
                (dir.join("videos").join(format!("{video}.mp4")), Read::Video),
            ]
        };
        let s = Subtask {
            task: Task::Lvbench,
            subset,
            file: dir.join("json").join(format!("lvbench_clean_{kind}.json")),
            media: &media,
            prompt: &prompt,
        };
        load_subtask(&s, "LVBench json/lvbench_clean_<type>.json", out)?;
    }
    Ok(())
}
