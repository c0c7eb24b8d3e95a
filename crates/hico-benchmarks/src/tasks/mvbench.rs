//! MVBench (`mvbench`): 20 sub-tasks, `json/<sub_task>.json` each, videos under
//! `video/<source>/` (official: `lmms_eval/tasks/mvbench/utils.py`, `mvbench_*.yaml`).
//!
//! - Prompt (`mvbench_doc_to_text`): `"Question: " + question + "\nOption:\n"`, then
//!   `"(X) option\n"` per candidate, then the yaml's post prompt
//!   `"\nOnly give the best option."`.
//! - Media: `video/<source>/<video>`; `episodic_reasoning` reads a frame folder (TVQA frames
//!   at 3 fps) and, like the STAR and STA sub-tasks, only the `start`–`end` clip.
//! - Parser and aggregation: [`super::subtask_parse`], [`crate::score::subtask_scores`].

use std::path::Path;

use super::{Subtask, frames_fps, load_subtask};
use crate::error::Result;
use crate::question::{Read, letter};
use crate::{Loaded, Task};

/// The sub-tasks in the order of the official group yaml (`mvbench.yaml`), which is the order
/// lmms-eval accumulates the group score in.
pub const ORDER: [&str; 20] = [
    "action_sequence",
    "moving_count",
    "action_prediction",
    "episodic_reasoning",
    "action_antonym",
    "action_count",
    "scene_transition",
    "object_shuffle",
    "object_existence",
    "fine_grained_pose",
    "unexpected_action",
    "moving_direction",
    "state_change",
    "object_interaction",
    "character_order",
    "action_localization",
    "counterfactual_inference",
    "fine_grained_action",
    "moving_attribute",
    "egocentric_navigation",
];

/// The media folder of a sub-task under `video/`: the published name (the MVBench
/// repository's `video/*.zip` unpacked), then the name the official `DATA_LIST` uses where
/// it differs.
pub fn source_dirs(subset: &str) -> &'static [&'static str] {
    match subset {
        "action_sequence" | "action_prediction" | "object_interaction" => &["star/Charades_v1_480"],
        "action_antonym" => &["ssv2_video", "ssv2-video"],
        "fine_grained_action" => &["Moments_in_Time_Raw/videos"],
        "unexpected_action" => &["FunQA_test/test", "funqa-test/test"],
        "object_existence"
        | "moving_direction"
        | "moving_count"
        | "moving_attribute"
        | "counterfactual_inference" => &["clevrer/video_validation"],
        "object_shuffle" | "action_count" | "state_change" | "character_order" => {
            &["perception/videos"]
        }
        "action_localization" => &["sta/sta_video"],
        "scene_transition" => &["scene_qa/video", "scene-qa/video"],
        "fine_grained_pose" => &["nturgbd"],
        "egocentric_navigation" => &["vlnqa"],
        "episodic_reasoning" => &["tvqa/frames_fps3_hq"],
        _ => &[],
    }
}

/// `mvbench_doc_to_text`.
pub fn prompt(question: &str, candidates: &[String]) -> String {
    let mut options = String::new();
    for (i, c) in candidates.iter().enumerate() {
        options.push_str(&format!("({}) {c}\n", letter(i)));
    }
    format!("Question: {question}\nOption:\n{options}\nOnly give the best option.")
}

pub(crate) fn load(dir: &Path, out: &mut Loaded) -> Result<()> {
    for subset in ORDER {
        let frames = subset == "episodic_reasoning";
        let media = |video: &str| {
            source_dirs(subset)
                .iter()
                .map(|d| {
                    let p = dir.join("video").join(d).join(video);
                    let read = if frames {
                        Read::Frames {
                            fps: frames_fps(&p),
                        }
                    } else {
                        Read::Video
                    };
                    (p, read)
                })
                .collect()
        };
        let s = Subtask {
            task: Task::Mvbench,
            subset,
            file: dir.join("json").join(format!("{subset}.json")),
            media: &media,
            prompt: &prompt,
        };
        load_subtask(&s, "MVBench json/<sub_task>.json", out)?;
    }
    Ok(())
}
