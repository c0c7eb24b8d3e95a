//! Results of a public-benchmark run: `results.json` / `results.md` (the official aggregation
//! overall and per group, each with its 95 % Wilson interval and n), the paired comparison of
//! two runs (`hico eval compare`) and the merge of shards (`hico eval merge`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use hico_benchmarks::{Scores, Task};
use serde::{Deserialize, Serialize};

use super::predictions::Prediction;
use crate::EvalError;
use crate::stats::{Z95, fmt_p, mcnemar_exact, wilson};

/// One line of the results: a group (or the whole set) with its interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupResult {
    /// The field grouped by (`duration`, `subset`, ...; `all` for the whole set).
    pub field: String,
    /// Its value.
    pub value: String,
    /// The official score on the official scale.
    pub score: f64,
    /// Questions.
    pub n: usize,
    /// Questions in the denominator (the official aggregation skips empty replies in some
    /// tasks).
    pub answered: usize,
    /// Correct answers.
    pub correct: usize,
    /// 95 % Wilson interval of `correct / answered`, on the official scale.
    pub low: f64,
    /// Upper end of the interval.
    pub high: f64,
    /// Whether the official evaluation reports this group (hico adds a few breakdowns).
    pub official: bool,
}

/// `results.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    /// The task.
    pub task: Task,
    /// The official metric's name.
    pub metric: String,
    /// The official score on the metric's own scale (Video-MME a percentage,
    /// LongVideoBench a fraction, ...).
    pub score: f64,
    /// Questions scored.
    pub n: usize,
    /// Questions in the denominator (the official aggregation skips empty replies in some
    /// tasks).
    pub answered: usize,
    /// Correct answers.
    pub correct: usize,
    /// 95 % Wilson interval of the overall accuracy (on the metric's scale; for tasks whose
    /// overall score weights sub-tasks, the interval is of the plain accuracy).
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Per group, as the paper's tables break them down.
    pub groups: Vec<GroupResult>,
    /// Questions of the folder not run (missing media).
    pub skipped: usize,
}

/// Aggregate predictions with the task's official rule and add the intervals.
pub fn results(task: Task, preds: &[Prediction], skipped: usize) -> Results {
    let scored: Vec<_> = preds.iter().map(Prediction::scored).collect();
    let s: Scores = task.aggregate(scored.iter().map(|(q, p)| (q, p)));
    let scale = task.settings().scale;
    let overall = wilson(s.correct, s.answered, Z95);
    Results {
        task,
        metric: s.metric.clone(),
        score: s.score,
        n: s.n,
        answered: s.answered,
        correct: s.correct,
        low: overall.low * scale,
        high: overall.high * scale,
        groups: s
            .groups
            .iter()
            .map(|g| {
                let w = wilson(g.correct, g.answered, Z95);
                GroupResult {
                    field: g.field.clone(),
                    value: g.value.clone(),
                    score: g.score,
                    n: g.n,
                    answered: g.answered,
                    correct: g.correct,
                    low: w.low * scale,
                    high: w.high * scale,
                    official: g.official,
                }
            })
            .collect(),
        skipped,
    }
}

/// `results.md`: the overall score and a table per grouping field.
pub fn markdown(r: &Results, title: &str) -> String {
    let mut s = format!(
        "# {title}\n\n{} ({}): **{:.3}** [{:.3}, {:.3}] over {} questions{}\n",
        r.task,
        r.metric,
        r.score,
        r.low,
        r.high,
        r.n,
        if r.skipped > 0 {
            format!(" ({} not run: media missing)", r.skipped)
        } else {
            String::new()
        }
    );
    let mut fields: Vec<&str> = Vec::new();
    for g in &r.groups {
        if !fields.contains(&g.field.as_str()) {
            fields.push(&g.field);
        }
    }
    for f in fields {
        let _ = write!(
            s,
            "\n## by `{f}`\n\n| {f} | score | 95 % interval | correct / answered | n |\n|---|---|---|---|---|\n"
        );
        for g in r.groups.iter().filter(|g| g.field == f) {
            let _ = writeln!(
                s,
                "| {}{} | {:.3} | [{:.3}, {:.3}] | {} / {} | {} |",
                g.value,
                if g.official { "" } else { " (hico)" },
                g.score,
                g.low,
                g.high,
                g.correct,
                g.answered,
                g.n
            );
        }
    }
    s
}

/// Write `results.json` and `results.md` into `dir`.
pub fn write(dir: &Path, r: &Results, title: &str) -> Result<(), EvalError> {
    crate::write_json(&dir.join("results.json"), r)?;
    let md = dir.join("results.md");
    std::fs::write(&md, markdown(r, title)).map_err(EvalError::io(&md))
}

/// One row of a paired comparison.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedRow {
    /// The field (`all` for the whole set).
    pub field: String,
    /// Its value.
    pub value: String,
    /// Questions both runs answered.
    pub n: usize,
    /// Correct in run A.
    pub a_correct: usize,
    /// Correct in run B.
    pub b_correct: usize,
    /// Right in A, wrong in B.
    pub a_only: usize,
    /// Wrong in A, right in B.
    pub b_only: usize,
    /// Two-sided exact McNemar p-value.
    pub p: f64,
}

/// Paired comparison of two runs on the questions both answered: overall and per group.
pub fn compare(a: &[Prediction], b: &[Prediction]) -> Vec<PairedRow> {
    let by_id: BTreeMap<&str, &Prediction> = b.iter().map(|p| (p.id.as_str(), p)).collect();
    let mut rows: BTreeMap<(String, String), PairedRow> = BTreeMap::new();
    for pa in a {
        let Some(pb) = by_id.get(pa.id.as_str()) else {
            continue;
        };
        let keys = std::iter::once(("all".to_string(), "all".to_string()))
            .chain(pa.groups.iter().map(|(k, v)| (k.clone(), v.clone())));
        for (field, value) in keys {
            let row = rows
                .entry((field.clone(), value.clone()))
                .or_insert(PairedRow {
                    field,
                    value,
                    n: 0,
                    a_correct: 0,
                    b_correct: 0,
                    a_only: 0,
                    b_only: 0,
                    p: 1.0,
                });
            row.n += 1;
            row.a_correct += usize::from(pa.correct);
            row.b_correct += usize::from(pb.correct);
            row.a_only += usize::from(pa.correct && !pb.correct);
            row.b_only += usize::from(!pa.correct && pb.correct);
        }
    }
    let mut out: Vec<PairedRow> = rows
        .into_values()
        .map(|mut r| {
            r.p = mcnemar_exact(r.a_only, r.b_only);
            r
        })
        .collect();
    out.sort_by_key(|r| (r.field != "all", r.field.clone(), r.value.clone()));
    out
}

/// The comparison as a markdown table.
pub fn compare_markdown(rows: &[PairedRow], a: &str, b: &str) -> String {
    let mut s = format!(
        "A = {a}\nB = {b}\n\n| field | value | n | A correct | B correct | A only | B only | McNemar p |\n|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.field,
            r.value,
            r.n,
            r.a_correct,
            r.b_correct,
            r.a_only,
            r.b_only,
            fmt_p(r.p)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pred(id: &str, subset: &str, correct: bool) -> Prediction {
        Prediction {
            id: id.into(),
            task: Task::Mvbench,
            prompt: String::new(),
            response: String::new(),
            parsed: if correct { "A" } else { "B" }.into(),
            correct,
            answered: true,
            random: false,
            gold: "A".into(),
            options: vec!["x".into(), "y".into()],
            groups: [("subset".to_string(), subset.to_string())].into(),
            video: "v.mp4".into(),
            frames: 8,
            visual_tokens: 32,
            seconds: 0.1,
        }
    }

    #[test]
    fn paired_rows_count_discordant_questions_per_group() {
        let a = vec![
            pred("s/0", "s", true),
            pred("s/1", "s", true),
            pred("t/0", "t", false),
        ];
        let b = vec![
            pred("s/0", "s", false),
            pred("s/1", "s", true),
            pred("t/0", "t", true),
        ];
        let rows = compare(&a, &b);
        assert_eq!(rows[0].field, "all");
        assert_eq!((rows[0].n, rows[0].a_only, rows[0].b_only), (3, 1, 1));
        let s = rows.iter().find(|r| r.value == "s").unwrap();
        assert_eq!((s.a_correct, s.b_correct, s.a_only, s.b_only), (2, 1, 1, 0));
        assert!((s.p - 1.0).abs() < 1e-12);
        assert!(compare_markdown(&rows, "a", "b").contains("| subset | t | 1 | 0 | 1 | 0 | 1 |"));
    }

    #[test]
    fn results_carry_intervals_on_the_official_scale() {
        let preds = vec![
            pred("action_antonym/0", "action_antonym", true),
            pred("action_antonym/1", "action_antonym", false),
        ];
        let r = results(Task::Mvbench, &preds, 1);
        assert_eq!((r.n, r.skipped), (2, 1));
        assert!(r.low < r.score && r.score < r.high, "{r:?}");
        assert!(r.high <= 100.0 + 1e-9);
        let md = markdown(&r, "t");
        assert!(md.contains("## by `subset`"), "{md}");
    }
}
