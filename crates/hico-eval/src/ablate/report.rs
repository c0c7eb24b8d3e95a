//! The results of a grid: one [`Row`] per cell (saved as the cell's `done.json`), and the
//! tables written from them: `results.csv`, `results.md` and `niah.csv`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{EvalError, score::DepthAccuracy};

/// The result of one cell (or its error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Cell name (its folder under `cells/`).
    pub cell: String,
    /// Compressor kind.
    pub compressor: String,
    /// Compressor budget per frame (absent for `identity`).
    pub tokens_per_frame: Option<usize>,
    /// Dropout schedule: its kind, or its full label when kinds repeat in the grid.
    pub dropout: String,
    /// `(dotted key, label)` of the cell's grid values.
    pub labels: Vec<(String, String)>,
    /// Accuracy by letter logits (absent when the cell failed).
    pub accuracy: Option<f64>,
    /// Accuracy by exact match of the generated answer (when scored).
    pub exact_match: Option<f64>,
    /// Mean visual tokens entering the LLM per question.
    pub visual_tokens: f64,
    /// Mean frames sampled per question.
    pub frames: f64,
    /// Mean prefill GFLOP per question (analytic ledger).
    pub prefill_gflop: f64,
    /// Mean KV-cache KiB per question after the prefill (f32).
    pub kv_kib: f64,
    /// Wall-clock seconds of the cell.
    pub seconds: f64,
    /// Questions scored.
    pub n: usize,
    /// Questions skipped (unreadable; in the cell's `skipped.jsonl`). `accuracy` counts
    /// them as wrong: it is over `n + skipped` questions.
    #[serde(default)]
    pub skipped: usize,
    /// How often `A`..`D` was predicted.
    pub predicted: [usize; 4],
    /// Accuracy per (depth, haystack length).
    pub by_depth: Vec<DepthAccuracy>,
    /// Why the cell failed.
    pub error: Option<String>,
    /// The model the cell was scored with (`random` or the training cache key); a
    /// `done.json` for another model does not count as done.
    #[serde(default)]
    pub model: String,
}

fn clean(s: &str) -> String {
    s.replace([',', '\n', '\r', '|'], ";")
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_default()
}

/// Write `results.csv`.
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<(), EvalError> {
    let mut t = String::from(
        "cell,compressor,tokens_per_frame,dropout,accuracy,visual_tokens,frames,prefill_gflop,\
         kv_kib,seconds,exact_match,n,pred_a,pred_b,pred_c,pred_d,error\n",
    );
    for r in rows {
        t += &format!(
            "{},{},{},{},{},{:.1},{:.1},{:.6},{:.2},{:.2},{},{},{},{},{},{},{}\n",
            r.cell,
            r.compressor,
            r.tokens_per_frame
                .map(|t| t.to_string())
                .unwrap_or_default(),
            clean(&r.dropout),
            opt(r.accuracy),
            r.visual_tokens,
            r.frames,
            r.prefill_gflop,
            r.kv_kib,
            r.seconds,
            opt(r.exact_match),
            r.n,
            r.predicted[0],
            r.predicted[1],
            r.predicted[2],
            r.predicted[3],
            clean(r.error.as_deref().unwrap_or("")),
        );
    }
    std::fs::write(path, t).map_err(EvalError::io(path))
}

/// Write `results.md`: a markdown table, one row per cell.
pub fn write_markdown(path: &Path, title: &str, rows: &[Row]) -> Result<(), EvalError> {
    let mut t = format!(
        "# {title}\n\n| cell | compressor | tokens/frame | dropout | accuracy | exact match | \
         visual tokens | frames | prefill GFLOP | KV KiB | seconds | predicted A/B/C/D | error |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in rows {
        t += &format!(
            "| {} | {} | {} | {} | {} | {} | {:.0} | {:.0} | {:.4} | {:.0} | {:.1} | {} | {} |\n",
            r.cell,
            r.compressor,
            r.tokens_per_frame
                .map(|t| t.to_string())
                .unwrap_or_default(),
            clean(&r.dropout),
            r.accuracy
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "—".into()),
            r.exact_match
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "—".into()),
            r.visual_tokens,
            r.frames,
            r.prefill_gflop,
            r.kv_kib,
            r.seconds,
            r.predicted.map(|p| p.to_string()).join("/"),
            clean(r.error.as_deref().unwrap_or("")),
        );
    }
    std::fs::write(path, t).map_err(EvalError::io(path))
}

/// Accuracy per (depth, frames) averaged over the successful cells (each cell weighs the
/// same).
pub fn mean_by_depth(rows: &[Row]) -> Vec<DepthAccuracy> {
    let mut out: Vec<DepthAccuracy> = Vec::new();
    let ok: Vec<&Row> = rows.iter().filter(|r| r.error.is_none()).collect();
    for r in &ok {
        for c in &r.by_depth {
            match out
                .iter_mut()
                .find(|o| o.depth == c.depth && o.frames == c.frames)
            {
                Some(o) => {
                    o.accuracy += c.accuracy;
                    o.n += 1;
                }
                None => out.push(DepthAccuracy { n: 1, ..c.clone() }),
            }
        }
    }
    for o in &mut out {
        o.accuracy /= o.n as f64;
    }
    out.sort_by(|a, b| a.frames.cmp(&b.frames).then(a.depth.total_cmp(&b.depth)));
    out
}
