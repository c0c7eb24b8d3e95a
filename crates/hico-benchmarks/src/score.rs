//! Scores of a run: the official metric overall and per group.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Parsed, Question, Task};

/// One group's score (a duration, category, sub-task, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupScore {
    /// The field grouped by (a key of [`Question::groups`]: `duration`, `subset`, ...).
    pub field: String,
    /// The field's value (`short`, `action_antonym`, ...).
    pub value: String,
    /// On the official metric's scale, computed as the official code computes it for this
    /// group (or, where it reports none, as it computes the overall score).
    pub score: f64,
    /// Questions in the group.
    pub n: usize,
    /// Questions counted in the denominator (fewer than `n` only where the official
    /// aggregation skips empty replies).
    pub answered: usize,
    /// Correct answers.
    pub correct: usize,
    /// Whether the official evaluation reports this breakdown (logged or returned); false for
    /// the breakdowns hico adds (e.g. PerceptionTest's `area`).
    pub official: bool,
}

/// The scores of a set of parsed replies: overall as the official aggregation returns it, and
/// per group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// The task.
    pub task: Task,
    /// The official metric's name (`videomme_percetion_score`, `mvbench_accuracy`, ...).
    pub metric: String,
    /// The official score, on the metric's own scale (percent for Video-MME, MVBench, MLVU,
    /// LVBench; a fraction for LongVideoBench and PerceptionTest).
    pub score: f64,
    /// Questions scored.
    pub n: usize,
    /// Questions counted in a denominator (see [`Parsed::answered`]).
    pub answered: usize,
    /// Correct answers.
    pub correct: usize,
    /// Per-group scores, in field order, values sorted within a field (sub-tasks in the
    /// official group order).
    pub groups: Vec<GroupScore>,
}

/// Counts of one set of questions.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Tally {
    pub n: usize,
    pub answered: usize,
    pub correct: usize,
}

impl Tally {
    pub fn add(&mut self, p: &Parsed) {
        self.n += 1;
        self.answered += usize::from(p.answered);
        self.correct += usize::from(p.correct && p.answered);
    }
}

/// Tallies per value of `field`, in value order.
pub(crate) fn tally_by<'a>(
    results: &[(&'a Question, &'a Parsed)],
    field: &str,
) -> BTreeMap<String, Tally> {
    let mut out: BTreeMap<String, Tally> = BTreeMap::new();
    for (q, p) in results {
        if let Some(v) = q.groups.get(field) {
            out.entry(v.clone()).or_default().add(p);
        }
    }
    out
}

/// The overall tally.
pub(crate) fn tally(results: &[(&Question, &Parsed)]) -> Tally {
    let mut t = Tally::default();
    for (_, p) in results {
        t.add(p);
    }
    t
}

impl GroupScore {
    pub(crate) fn new(field: &str, value: &str, t: Tally, score: f64, official: bool) -> Self {
        GroupScore {
            field: field.to_string(),
            value: value.to_string(),
            score,
            n: t.n,
            answered: t.answered,
            correct: t.correct,
            official,
        }
    }
}

/// `round(x, 5)` of Python: the nearest double to x correctly rounded to 5 decimals (ties to
/// even on the exact binary value, as Rust's formatting does).
pub(crate) fn py_round5(x: f64) -> f64 {
    format!("{x:.5}").parse().expect("formatted float")
}

/// Score of the sub-task groups MVBench, MLVU and LVBench use: per sub-task
/// `100 * correct / answered` (empty replies skipped; 0 without any answered), overall the
/// lmms-eval group score: the sub-task scores averaged with weights = questions per sub-task,
/// accumulated in the group yaml's order as lmms-eval's evaluator does.
pub(crate) fn subtask_scores(
    task: Task,
    metric: &str,
    order: &[&str],
    results: &[(&Question, &Parsed)],
) -> Scores {
    let by = tally_by(results, "subset");
    let mut groups = Vec::new();
    let mut overall: Option<f64> = None;
    let mut total = 0usize;
    for name in order {
        let Some(t) = by.get(*name) else { continue };
        let s = if t.answered > 0 {
            100.0 * t.correct as f64 / t.answered as f64
        } else {
            0.0
        };
        overall = Some(match overall {
            None => s,
            Some(m) => (m * total as f64 + s * t.n as f64) / (total + t.n) as f64,
        });
        total += t.n;
        groups.push(GroupScore::new("subset", name, *t, s, true));
    }
    let all = tally(results);
    Scores {
        task,
        metric: metric.to_string(),
        score: overall.unwrap_or(0.0),
        n: all.n,
        answered: all.answered,
        correct: all.correct,
        groups,
    }
}
