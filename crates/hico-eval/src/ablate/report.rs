//! The results of a grid: one [`Row`] per cell (saved as the cell's `done.json`), and the
//! tables written from them: `results.csv` (csv crate: one column per grid key, the
//! accuracy's Wilson interval, hico's version and commit on every row), `results.md` (with
//! the paired comparisons) and `niah.csv`.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{
    EvalError,
    score::DepthAccuracy,
    stats::{Proportion, Z95, wilson},
};

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
    /// The compression method that acts in the cell ([`super::budget::method_of`]): the
    /// `[video_compressor]` kind, else the in-LLM `[dropout]` or `[kv_cache]` kind, else
    /// the clip compressor's kind.
    #[serde(default)]
    pub method: String,
    /// `(dotted key, label)` of the cell's grid values.
    pub labels: Vec<(String, String)>,
    /// Accuracy by letter logits (absent when the cell failed).
    pub accuracy: Option<f64>,
    /// Questions answered right by letter logits.
    #[serde(default)]
    pub correct: usize,
    /// Accuracy by exact match of the generated answer (when scored).
    pub exact_match: Option<f64>,
    /// Mean visual tokens entering the LLM per question.
    pub visual_tokens: f64,
    /// Mean over the decoder layers of the visual tokens at each layer's input, per question
    /// (equals `visual_tokens` unless a method drops or merges inside the LLM).
    #[serde(default)]
    pub layer_visual_tokens: f64,
    /// Mean milliseconds per question of decoding and encoding the video.
    #[serde(default)]
    pub encode_ms: f64,
    /// Mean milliseconds per question of the `[video_compressor]` slot.
    #[serde(default)]
    pub slot_ms: f64,
    /// Mean milliseconds per question of the LLM prefill (prompt assembly to the last
    /// position's logits on the host).
    #[serde(default)]
    pub prefill_ms: f64,
    /// Mean frames sampled per question.
    pub frames: f64,
    /// Mean prefill GFLOP per question (analytic ledger).
    pub prefill_gflop: f64,
    /// Mean KV-cache KiB per question after the prefill (f32).
    pub kv_kib: f64,
    /// Wall-clock seconds of the cell.
    pub seconds: f64,
    /// The training seed of the model that scored the cell (`None` outside a seeded run).
    #[serde(default)]
    pub seed: Option<u64>,
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
    /// hico's version (`CARGO_PKG_VERSION`) that scored the cell.
    #[serde(default)]
    pub hico_version: String,
    /// The git commit hico was built from (see [`crate::version`]).
    #[serde(default)]
    pub git_commit: String,
}

impl Row {
    /// Accuracy with its 95 % Wilson interval (`None` when the cell failed).
    /// Skipped questions count as wrong, as in `accuracy`.
    pub fn interval(&self) -> Option<Proportion> {
        self.accuracy
            .map(|_| wilson(self.correct, self.n + self.skipped, Z95))
    }
}

pub(crate) fn md_clean(s: &str) -> String {
    s.replace(['\n', '\r', '|'], ";")
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map(|x| format!("{x:.digits$}")).unwrap_or_default()
}

/// The grid keys of `rows`, in the order of their first appearance.
fn grid_keys(rows: &[Row]) -> Vec<String> {
    let mut keys: Vec<String> = Vec::new();
    for r in rows {
        for (k, _) in &r.labels {
            if !keys.contains(k) {
                keys.push(k.clone());
            }
        }
    }
    keys
}

/// Write `results.csv` with the csv crate: `cell`, `seed` (empty outside a seeded run), one
/// column `grid.<key>` per grid key (the value's label), then `compressor, tokens_per_frame, dropout, accuracy, acc_low95, acc_high95,
/// correct, n, exact_match, visual_tokens, frames, prefill_gflop, kv_kib, seconds,
/// pred_a..pred_d, hico_version, git_commit, error, method, layer_visual_tokens, encode_ms,
/// slot_ms, prefill_ms` (the last five appended so older readers keep their columns).
pub fn write_csv(path: &Path, rows: &[Row]) -> Result<(), EvalError> {
    let err = |e: csv::Error| EvalError::Io {
        path: path.into(),
        source: std::io::Error::other(e),
    };
    let keys = grid_keys(rows);
    let mut w = csv::Writer::from_path(path).map_err(err)?;
    let mut header: Vec<String> = vec!["cell".into(), "seed".into()];
    // `grid.<key>`: a grid key may share its name with a fixed column (`compressor`).
    header.extend(keys.iter().map(|k| format!("grid.{k}")));
    header.extend(
        [
            "compressor",
            "tokens_per_frame",
            "dropout",
            "accuracy",
            "acc_low95",
            "acc_high95",
            "correct",
            "n",
            "skipped",
            "exact_match",
            "visual_tokens",
            "frames",
            "prefill_gflop",
            "kv_kib",
            "seconds",
            "pred_a",
            "pred_b",
            "pred_c",
            "pred_d",
            "hico_version",
            "git_commit",
            "error",
            "method",
            "layer_visual_tokens",
            "encode_ms",
            "slot_ms",
            "prefill_ms",
        ]
        .map(String::from),
    );
    w.write_record(&header).map_err(err)?;
    for r in rows {
        let ci = r.interval();
        let mut rec: Vec<String> = vec![
            r.cell.clone(),
            r.seed.map(|s| s.to_string()).unwrap_or_default(),
        ];
        for k in &keys {
            let label = r.labels.iter().find(|(key, _)| key == k);
            rec.push(label.map(|(_, l)| l.clone()).unwrap_or_default());
        }
        rec.extend([
            r.compressor.clone(),
            r.tokens_per_frame
                .map(|t| t.to_string())
                .unwrap_or_default(),
            r.dropout.clone(),
            fmt_opt(r.accuracy, 4),
            fmt_opt(ci.map(|c| c.low), 4),
            fmt_opt(ci.map(|c| c.high), 4),
            r.correct.to_string(),
            r.n.to_string(),
            r.skipped.to_string(),
            fmt_opt(r.exact_match, 4),
            format!("{:.1}", r.visual_tokens),
            format!("{:.1}", r.frames),
            format!("{:.6}", r.prefill_gflop),
            format!("{:.2}", r.kv_kib),
            format!("{:.2}", r.seconds),
        ]);
        rec.extend(r.predicted.map(|p| p.to_string()));
        rec.extend([
            r.hico_version.clone(),
            r.git_commit.clone(),
            r.error.clone().unwrap_or_default(),
            r.method.clone(),
            format!("{:.1}", r.layer_visual_tokens),
            format!("{:.3}", r.encode_ms),
            format!("{:.3}", r.slot_ms),
            format!("{:.3}", r.prefill_ms),
        ]);
        w.write_record(&rec).map_err(err)?;
    }
    w.flush().map_err(EvalError::io(path))
}

/// Write `results.md`: `sections` (markdown written over the seeds: means, paired tests,
/// the depth curve) after a heading, then a table with one row per cell and model (accuracy
/// with its 95 % Wilson interval, cost columns).
pub fn write_markdown(
    path: &Path,
    title: &str,
    rows: &[Row],
    sections: &str,
) -> Result<(), EvalError> {
    let mut t = format!("# {title}\n{sections}");
    t += "\n## Every cell and model\n\n| cell | seed | compressor | tokens/frame | dropout | \
         accuracy | 95 % CI | correct/n | exact match | visual tokens | frames | prefill GFLOP | \
         KV KiB | prefill ms | seconds | predicted A/B/C/D | error |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";
    for r in rows {
        let ci = r.interval();
        t += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {}/{} | {} | {:.0} | {:.0} | {:.4} | {:.0} \
             | {:.2} | {:.1} | {} | {} |\n",
            r.cell,
            r.seed.map(|s| s.to_string()).unwrap_or_default(),
            r.compressor,
            r.tokens_per_frame
                .map(|t| t.to_string())
                .unwrap_or_default(),
            md_clean(&r.dropout),
            r.accuracy
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "—".into()),
            ci.map(|c| format!("[{:.3}, {:.3}]", c.low, c.high))
                .unwrap_or_else(|| "—".into()),
            r.correct,
            r.n,
            r.exact_match
                .map(|a| format!("{a:.3}"))
                .unwrap_or_else(|| "—".into()),
            r.visual_tokens,
            r.frames,
            r.prefill_gflop,
            r.kv_kib,
            r.prefill_ms,
            r.seconds,
            r.predicted.map(|p| p.to_string()).join("/"),
            md_clean(r.error.as_deref().unwrap_or("")),
        );
    }
    let versions: Vec<String> = {
        let mut v: Vec<String> = rows
            .iter()
            .map(|r| format!("hico {} at commit {}", r.hico_version, r.git_commit))
            .collect();
        v.sort();
        v.dedup();
        v
    };
    t += &format!("\nScored by {}.\n", versions.join("; "));
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
