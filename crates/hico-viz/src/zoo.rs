//! The cost plots of an ablation: accuracy against the visual tokens the LLM kept, and
//! against the measured time from the encoder's tokens to the first answer logits (the
//! `[video_compressor]` slot plus the LLM prefill), one point per cell pooled over the
//! seeds, one series per compression method, 95 % Wilson intervals of the pooled answers.
//!
//! Read from `results.csv` columns `cell, method, correct, n, layer_visual_tokens,
//! prefill_ms` (optional: `seed`, `skipped`, `slot_ms`, `error`; rows with an error or an
//! unparsable count are left out).

use std::path::{Path, PathBuf};

use crate::{TokenPoint, VizError, bench::accuracy_vs};

/// One cell over the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct CostPoint {
    /// Cell name.
    pub cell: String,
    /// The compression method (the series).
    pub method: String,
    /// Visual tokens per decoder layer, mean over layers, questions and seeds.
    pub tokens: f64,
    /// Milliseconds per question of the video slot plus the prefill, mean over the seeds.
    pub ms: f64,
    /// Right answers summed over the seeds.
    pub correct: usize,
    /// Questions asked summed over the seeds (skipped ones included).
    pub asked: usize,
}

/// The 95 % Wilson score interval of `k` successes in `n` trials.
pub fn wilson95(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (z, n, p) = (1.959_963_984_540_054_f64, n as f64, k as f64 / n as f64);
    let d = 1.0 + z * z / n;
    let c = (p + z * z / (2.0 * n)) / d;
    let h = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / d;
    ((c - h).max(0.0), (c + h).min(1.0))
}

/// The cells of `results.csv` pooled over the seeds (first-seen order); `None` when the
/// file lacks the cost columns (`method`, `layer_visual_tokens`, `prefill_ms`) or no cell
/// has a positive prefill time.
pub fn read_cost_points(path: &Path) -> Result<Option<Vec<CostPoint>>, VizError> {
    let cols = [
        "cell",
        "method",
        "correct",
        "n",
        "skipped",
        "layer_visual_tokens",
        "prefill_ms",
        "slot_ms",
        "error",
    ];
    let optional = ["skipped", "slot_ms", "error"];
    let rows = match crate::run_dir::read_csv(path, &cols, &optional) {
        Ok(rows) => rows,
        Err(VizError::Csv { msg, .. }) if msg.starts_with("no column") => return Ok(None),
        Err(e) => return Err(e),
    };
    // (point, seeds summed) per cell.
    let mut cells: Vec<(CostPoint, f64)> = Vec::new();
    for r in rows {
        let num = |s: &str| s.parse::<f64>().ok().filter(|v| v.is_finite());
        let count = |s: &str| s.parse::<usize>().ok();
        let (Some(correct), Some(n), Some(tokens), Some(prefill)) =
            (count(&r[2]), count(&r[3]), num(&r[5]), num(&r[6]))
        else {
            continue;
        };
        if !r[8].is_empty() || n == 0 {
            continue;
        }
        let asked = n + count(&r[4]).unwrap_or(0);
        let ms = prefill + num(&r[7]).unwrap_or(0.0);
        match cells.iter_mut().find(|(c, _)| c.cell == r[0]) {
            Some((c, k)) => {
                c.tokens += tokens;
                c.ms += ms;
                c.correct += correct;
                c.asked += asked;
                *k += 1.0;
            }
            None => cells.push((
                CostPoint {
                    cell: r[0].clone(),
                    method: r[1].clone(),
                    tokens,
                    ms,
                    correct,
                    asked,
                },
                1.0,
            )),
        }
    }
    let points: Vec<CostPoint> = cells
        .into_iter()
        .map(|(mut c, k)| {
            c.tokens /= k;
            c.ms /= k;
            c
        })
        .collect();
    Ok(points.iter().any(|p| p.ms > 0.0).then_some(points))
}

/// A point of `p` at `x`, its series the method, with the pooled interval.
fn point(p: &CostPoint, x: f64) -> TokenPoint {
    TokenPoint {
        series: p.method.clone(),
        tokens_per_frame: x,
        accuracy: p.correct as f64 / p.asked.max(1) as f64,
        interval: Some(wilson95(p.correct, p.asked)),
    }
}

/// Draw `accuracy_vs_kept_tokens` and `accuracy_vs_prefill_time` from `points` into `out`.
pub fn cost_plots(points: &[CostPoint], out: &Path) -> Result<Vec<PathBuf>, VizError> {
    let tokens: Vec<TokenPoint> = points.iter().map(|p| point(p, p.tokens)).collect();
    let time: Vec<TokenPoint> = points.iter().map(|p| point(p, p.ms)).collect();
    let mut files = accuracy_vs(
        &tokens,
        "Accuracy vs visual tokens kept (answers pooled over seeds; 95 % Wilson)",
        "visual tokens per decoder layer, mean over layers",
        &out.join("accuracy_vs_kept_tokens"),
    )?;
    files.extend(accuracy_vs(
        &time,
        "Accuracy vs measured prefill time (answers pooled over seeds; 95 % Wilson)",
        "ms per question: video-slot method + LLM prefill",
        &out.join("accuracy_vs_prefill_time"),
    )?);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_pool_over_seeds_and_failed_rows_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("results.csv");
        std::fs::write(
            &csv,
            "cell,seed,method,correct,n,skipped,layer_visual_tokens,prefill_ms,slot_ms,error\n\
             none,0,identity,190,192,0,256.0,4.0,0.0,\n\
             zip,0,visionzip,100,192,0,64.0,1.0,0.5,\n\
             none,1,identity,191,192,0,256.0,6.0,0.0,\n\
             zip,1,visionzip,80,190,2,64.0,3.0,0.5,\n\
             bad,1,divprune,0,0,0,0.0,0.0,0.0,boom\n",
        )
        .unwrap();
        let pts = read_cost_points(&csv).unwrap().unwrap();
        assert_eq!(pts.len(), 2);
        assert_eq!(
            pts[1],
            CostPoint {
                cell: "zip".into(),
                method: "visionzip".into(),
                tokens: 64.0,
                ms: 2.5,
                correct: 180,
                asked: 384,
            }
        );
        let files = cost_plots(&pts, dir.path()).unwrap();
        assert_eq!(files.len(), 4);
        assert!(files.iter().all(|f| f.exists()));
        // Without the cost columns there is nothing to draw.
        std::fs::write(&csv, "cell,accuracy\nx,0.5\n").unwrap();
        assert_eq!(read_cost_points(&csv).unwrap(), None);
    }

    #[test]
    fn wilson_matches_the_closed_form() {
        let (lo, hi) = wilson95(8, 20);
        assert!(
            (lo - 0.2188).abs() < 1e-3 && (hi - 0.6134).abs() < 1e-3,
            "{lo} {hi}"
        );
        assert_eq!(wilson95(0, 0), (0.0, 1.0));
        let (lo, hi) = wilson95(10, 10);
        assert!(
            (hi - 1.0).abs() < 1e-12 && (lo - 0.7225).abs() < 1e-3,
            "{lo} {hi}"
        );
    }
}
