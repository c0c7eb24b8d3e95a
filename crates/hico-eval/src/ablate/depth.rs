//! The drop-depth curve of a trained model: the experiment's base cell (its overrides, no
//! grid value: for the main job the uncompressed model) scored with every visual token
//! removed after its first `layers_seen` decoder layers, for `layers_seen = 0..=n_layers`
//! (0: the LLM never sees the video, `[dropout] kind = "remove_all"` with `after_layer = 0`;
//! `n_layers`: nothing removed, `kind = "none"`). Its cells live in
//! `<model>/depth/layers-<k>/` and are cached like grid cells.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{experiment::Cell, report::Row, seeds::ModelResult};
use crate::{EvalError, ablate::Experiment};

/// One point of a model's depth curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DepthPoint {
    /// Decoder layers that saw the visual tokens.
    pub layers_seen: usize,
    /// Questions answered right.
    pub correct: usize,
    /// Questions scored (skipped ones count as wrong).
    pub n: usize,
}

impl DepthPoint {
    /// `correct / n`.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.n.max(1) as f64
    }
}

/// The depth cells of `exp`: its base config with `dropout` set to `remove_all` after each
/// layer `k < n_layers`, then `none`; named `depth/layers-<k>`.
pub fn depth_cells(exp: &Experiment, exp_path: &Path) -> Result<Vec<Cell>, EvalError> {
    let base = exp.base_config(exp_path)?;
    let n_layers = base.llm_layers()?;
    (0..=n_layers)
        .map(|k| {
            let mut dropout = toml::Table::new();
            if k < n_layers {
                dropout.insert("kind".into(), "remove_all".into());
                dropout.insert("after_layer".into(), toml::Value::Integer(k as i64));
            } else {
                dropout.insert("kind".into(), "none".into());
            }
            let dropout = toml::Value::Table(dropout);
            let values = vec![("dropout".to_string(), dropout)];
            let config = exp.resolve(exp_path, &values)?;
            Ok(Cell {
                name: format!("depth/layers-{k}"),
                values,
                labels: vec![("layers_seen".into(), k.to_string())],
                config,
            })
        })
        .collect()
}

/// The depth points of a model's scored depth cells (failed cells left out).
pub fn depth_points(rows: &[Row]) -> Vec<DepthPoint> {
    rows.iter()
        .filter(|r| r.error.is_none())
        .filter_map(|r| {
            let k = r.cell.strip_prefix("depth/layers-")?.parse().ok()?;
            Some(DepthPoint {
                layers_seen: k,
                correct: r.correct,
                n: r.n + r.skipped,
            })
        })
        .collect()
}

/// The curve over the models: per `layers_seen`, answers right and scored summed over the
/// models that have the point (so the accuracy is the mean over seeds when each scored the
/// same questions).
pub fn pooled(results: &[ModelResult]) -> Vec<DepthPoint> {
    let mut out: Vec<DepthPoint> = Vec::new();
    for p in results.iter().flat_map(|r| &r.depth) {
        match out.iter_mut().find(|o| o.layers_seen == p.layers_seen) {
            Some(o) => {
                o.correct += p.correct;
                o.n += p.n;
            }
            None => out.push(*p),
        }
    }
    out.sort_by_key(|p| p.layers_seen);
    out
}

/// `depth_curve.csv` (`layers_seen,accuracy,n`: pooled over the seeds, `n` the answers
/// summed over them) and `depth_curve_seeds.csv` (`seed,layers_seen,accuracy,correct,n`).
pub fn write_depth_csvs(out: &Path, results: &[ModelResult]) -> Result<(), EvalError> {
    let mut t = String::from("layers_seen,accuracy,n\n");
    for p in pooled(results) {
        t += &format!("{},{:.4},{}\n", p.layers_seen, p.accuracy(), p.n);
    }
    let path = out.join("depth_curve.csv");
    std::fs::write(&path, t).map_err(EvalError::io(&path))?;
    let mut t = String::from("seed,layers_seen,accuracy,correct,n\n");
    for r in results {
        for p in &r.depth {
            let seed = r.seed.map(|s| s.to_string()).unwrap_or_default();
            t += &format!(
                "{seed},{},{:.4},{},{}\n",
                p.layers_seen,
                p.accuracy(),
                p.correct,
                p.n
            );
        }
    }
    let path = out.join("depth_curve_seeds.csv");
    std::fs::write(&path, t).map_err(EvalError::io(&path))
}

/// The depth curve as a markdown section: one row per `layers_seen`, the pooled accuracy
/// and each model's, with 95 % Wilson intervals.
pub fn depth_markdown(results: &[ModelResult]) -> String {
    let with: Vec<&ModelResult> = results.iter().filter(|r| !r.depth.is_empty()).collect();
    let mut t = String::from(
        "\n## Drop-depth curve (base cell; every visual token removed after the first k \
         decoder layers)\n\n| layers seen (k) | pooled accuracy | 95 % CI |",
    );
    for r in &with {
        t += &format!(
            " seed {} |",
            r.seed.map_or_else(|| "—".into(), |s| s.to_string())
        );
    }
    t += "\n|---|---|---|";
    t += &"---|".repeat(with.len());
    t += "\n";
    for p in pooled(results) {
        t += &format!(
            "| {} | {:.3} ({}/{}) | {} |",
            p.layers_seen,
            p.accuracy(),
            p.correct,
            p.n,
            super::seeds::ci(p.correct, p.n)
        );
        for r in &with {
            t += &match r.depth.iter().find(|q| q.layers_seen == p.layers_seen) {
                Some(q) => format!(" {:.3} ({}/{}) |", q.accuracy(), q.correct, q.n),
                None => " — |".into(),
            };
        }
        t += "\n";
    }
    t += "\nk = 0: the LLM never sees the video; k = the decoder's depth: nothing removed \
          (`depth_curve.csv`, plot `plots/depth_curve.png`).\n";
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_points_sum_over_seeds() {
        let m = |seed, pts: &[(usize, usize)]| ModelResult {
            seed: Some(seed),
            dir: "x".into(),
            rows: Vec::new(),
            depth: pts
                .iter()
                .map(|&(k, c)| DepthPoint {
                    layers_seen: k,
                    correct: c,
                    n: 10,
                })
                .collect(),
        };
        let p = pooled(&[m(0, &[(1, 9), (0, 3)]), m(1, &[(0, 2), (1, 10)])]);
        assert_eq!(
            p.iter()
                .map(|p| (p.layers_seen, p.correct, p.n))
                .collect::<Vec<_>>(),
            vec![(0, 5, 20), (1, 19, 20)]
        );
        assert_eq!(p[0].accuracy(), 0.25);
    }
}
