//! # hico-benchmarks
//!
//! The public video benchmarks of the VideoChat-Flash paper, as its official evaluation
//! (VideoChat-Flash's fork of lmms-eval, folder `lmms-eval_videochat`) defines them: which
//! files a benchmark folder holds, how a row becomes a question id, a media path and a prompt
//! (each task's `doc_to_text`, byte for byte), the generation settings of the eval scripts,
//! the answer parser of each task with its quirks, and the aggregation (overall and per
//! group, weighted as the official code weights). docs/benchmarks.md gives the rules per
//! task and the official file each comes from.
//!
//! No model and no burn here: the pipeline runs [`Question::prompt`] on [`Question::video`]
//! with [`Task::settings`], strips the reply ([`py_strip`]), and this crate scores it.
//!
//! ```no_run
//! use hico_benchmarks::Task;
//! let task: Task = "mvbench".parse()?;
//! let questions = task.load("/data/MVBench".as_ref())?;
//! let q = &questions[0];
//! let parsed = task.parse(q, "(B) the cup");
//! let scores = task.aggregate([(q, &parsed)]);
//! println!("{} = {:.1} over {}", scores.metric, scores.score, scores.n);
//! # Ok::<(), hico_benchmarks::Error>(())
//! ```

pub mod error;
pub mod mcq;
pub mod question;
mod rows;
pub mod score;
pub mod tasks;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use error::{Error, Result};
pub use question::{Media, Parsed, Question, Read, Settings, py_strip, seeded_choice};
pub use score::{GroupScore, Scores};

/// A benchmark task, named as the official eval scripts name it (`--tasks`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Video-MME without subtitles (`videomme`).
    Videomme,
    /// Video-MME with the full subtitle in the prompt (`videomme_w_subtitle`).
    VideommeWSubtitle,
    /// MVBench, its 20 sub-tasks (`mvbench`).
    Mvbench,
    /// MLVU multiple choice, 7 sub-tasks (`mlvu_mc`).
    MlvuMc,
    /// LongVideoBench validation, video input with interleaved subtitles in the prompt
    /// (`longvideobench_val_v`).
    LongvideobenchValV,
    /// LVBench, its 6 video-type sub-tasks (`lvbench`).
    Lvbench,
    /// PerceptionTest validation, multiple choice (`perceptiontest_val_mc`).
    PerceptiontestValMc,
}

/// A benchmark folder read: the questions whose media exists, and those skipped.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// Questions ready to run, in the official order (sub-task files in the group yaml's
    /// order, rows in file order).
    pub questions: Vec<Question>,
    /// Questions left out because a video, frame folder or subtitle file they need is absent
    /// (each an [`Error::MissingMedia`]).
    pub skipped: Vec<Error>,
}

impl Task {
    /// Every task, in the order of this enum.
    pub const ALL: [Task; 7] = [
        Task::Videomme,
        Task::VideommeWSubtitle,
        Task::Mvbench,
        Task::MlvuMc,
        Task::LongvideobenchValV,
        Task::Lvbench,
        Task::PerceptiontestValMc,
    ];

    /// The official task name.
    pub fn name(self) -> &'static str {
        match self {
            Task::Videomme => "videomme",
            Task::VideommeWSubtitle => "videomme_w_subtitle",
            Task::Mvbench => "mvbench",
            Task::MlvuMc => "mlvu_mc",
            Task::LongvideobenchValV => "longvideobench_val_v",
            Task::Lvbench => "lvbench",
            Task::PerceptiontestValMc => "perceptiontest_val_mc",
        }
    }

    /// The official metric name (the key in lmms-eval's results).
    pub fn metric(self) -> &'static str {
        match self {
            Task::Videomme | Task::VideommeWSubtitle => "videomme_percetion_score",
            Task::Mvbench => "mvbench_accuracy",
            Task::MlvuMc => "mlvu_mc_accuracy",
            Task::LongvideobenchValV => "lvb_acc",
            Task::Lvbench => "lvbench_mc_accuracy",
            Task::PerceptiontestValMc => "accuracy",
        }
    }

    /// Generation settings as the official yaml and `scripts/eval_*.sh` set them.
    pub fn settings(self) -> Settings {
        let (max_new_tokens, max_num_frames, scale) = match self {
            Task::Videomme | Task::VideommeWSubtitle => (16, 512, 100.0),
            Task::Mvbench | Task::MlvuMc => (16, 512, 100.0),
            Task::LongvideobenchValV => (32, 512, 1.0),
            Task::Lvbench => (16, 640, 100.0),
            // No generation_kwargs in the yaml: the wrapper's default.
            Task::PerceptiontestValMc => (1024, 512, 1.0),
        };
        Settings {
            max_new_tokens,
            max_num_frames,
            greedy: true,
            scale,
        }
    }

    /// Read a benchmark folder as its publishers distribute it (see docs/benchmarks.md),
    /// requiring every question's media: the first absent video, frame folder or subtitle
    /// is an error naming it.
    pub fn load(self, dir: &Path) -> Result<Vec<Question>> {
        let loaded = self.load_lenient(dir)?;
        match loaded.skipped.into_iter().next() {
            Some(e) => Err(e),
            None => Ok(loaded.questions),
        }
    }

    /// Read a benchmark folder, setting aside questions whose media is absent (for a
    /// `max_skipped` policy). Missing annotation files or columns are still errors.
    pub fn load_lenient(self, dir: &Path) -> Result<Loaded> {
        let mut out = Loaded::default();
        match self {
            Task::Videomme | Task::VideommeWSubtitle => tasks::videomme::load(self, dir, &mut out)?,
            Task::Mvbench => tasks::mvbench::load(dir, &mut out)?,
            Task::MlvuMc => tasks::mlvu::load(dir, &mut out)?,
            Task::LongvideobenchValV => tasks::longvideobench::load(dir, &mut out)?,
            Task::Lvbench => tasks::lvbench::load(dir, &mut out)?,
            Task::PerceptiontestValMc => tasks::perceptiontest::load(dir, &mut out)?,
        }
        Ok(out)
    }

    /// Score one reply with the task's official parser. `response` is the generated text as
    /// the official wrapper returns it (stripped with [`py_strip`]).
    pub fn parse(self, q: &Question, response: &str) -> Parsed {
        match self {
            Task::Videomme | Task::VideommeWSubtitle => tasks::videomme::parse(q, response),
            Task::Mvbench | Task::MlvuMc | Task::Lvbench => tasks::subtask_parse(q, response),
            Task::LongvideobenchValV => tasks::longvideobench::parse(q, response),
            Task::PerceptiontestValMc => tasks::perceptiontest::parse(q, response),
        }
    }

    /// The official aggregation of parsed replies, overall and per group.
    pub fn aggregate<'a, I>(self, results: I) -> Scores
    where
        I: IntoIterator<Item = (&'a Question, &'a Parsed)>,
    {
        let results: Vec<(&Question, &Parsed)> = results.into_iter().collect();
        match self {
            Task::Videomme | Task::VideommeWSubtitle => tasks::videomme::aggregate(self, &results),
            Task::Mvbench => {
                score::subtask_scores(self, self.metric(), &tasks::mvbench::ORDER, &results)
            }
            Task::MlvuMc => {
                score::subtask_scores(self, self.metric(), &tasks::mlvu::ORDER, &results)
            }
            Task::Lvbench => {
                score::subtask_scores(self, self.metric(), &tasks::lvbench::ORDER, &results)
            }
            Task::LongvideobenchValV => tasks::longvideobench::aggregate(&results),
            Task::PerceptiontestValMc => tasks::perceptiontest::aggregate(&results),
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Task {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| Error::UnknownTask(s.to_string()))
    }
}

/// The first of `candidates` that exists, or the first candidate.
pub(crate) fn first_existing(candidates: &[PathBuf]) -> (PathBuf, bool) {
    match candidates.iter().find(|p| p.exists()) {
        Some(p) => (p.clone(), true),
        None => (candidates[0].clone(), false),
    }
}
