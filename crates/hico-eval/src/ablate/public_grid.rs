//! An ablation grid on a public benchmark (`[benchmark] kind = "videomme"`, `data = ...`):
//! the same cells as a synthetic grid (a base config, overrides, a grid over dotted keys),
//! each scored with `hico eval`'s path ([`crate::public`]: the task's prompts, frame budget,
//! parser and official aggregation) into `OUT/cells/<cell>/`, resumable question by question;
//! `results.csv` / `results.md` with each cell's official score and 95 % Wilson interval, and
//! every `[[paired]]` claim as an exact McNemar test on the questions both cells answered.
//! No training: the cells run the weights the config names (e.g. `[model]` a release).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use hico_benchmarks::Task;
use hico_core::config::PipelineConfig;
use hico_model::Pipeline;
use serde::{Deserialize, Serialize};

use super::experiment::{PairSpec, expand_grid, label};
use crate::public::{self, predictions, report};
use crate::stats::fmt_p;
use crate::{EvalError, write_json};

/// `[benchmark]` of a public-benchmark experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicBench {
    /// The task (`videomme`, `mvbench`, ...; docs/benchmarks.md).
    pub kind: Task,
    /// The benchmark's folder as its publishers distribute it (relative: to the current
    /// directory).
    pub data: PathBuf,
    /// Only the first N questions.
    #[serde(default)]
    pub limit: Option<usize>,
    /// Frame budget instead of the task's official one.
    #[serde(default)]
    pub max_frames: Option<usize>,
    /// Unreadable questions tolerated per cell (default: a tenth).
    #[serde(default)]
    pub max_skipped: Option<usize>,
}

/// An experiment file whose `[benchmark]` is a public benchmark.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicExperiment {
    /// Name (default output folder `runs/<name>`).
    #[serde(default)]
    pub name: String,
    /// The base pipeline config (TOML).
    pub base: PathBuf,
    /// Output folder (default `runs/<name>`).
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Dotted keys set on the base before any grid value.
    #[serde(default)]
    pub overrides: toml::Table,
    /// The benchmark.
    pub benchmark: PublicBench,
    /// Dotted key → list of values; every combination is a cell.
    pub grid: toml::Table,
    /// Cells compared on the same questions.
    #[serde(default)]
    pub paired: Vec<PairSpec>,
}

/// One cell's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicRow {
    /// Cell name.
    pub cell: String,
    /// `(dotted key, label)` of the cell.
    pub labels: Vec<(String, String)>,
    /// The official results (score, interval, groups).
    pub results: report::Results,
    /// Mean visual tokens the LLM received.
    pub visual_tokens: f64,
}

impl PublicExperiment {
    /// Read `path` when its `[benchmark] kind` names a public task (`None` otherwise, for
    /// the synthetic experiment loader); errors name the file and key.
    pub fn load(path: &Path) -> Result<Option<Self>, EvalError> {
        let text = std::fs::read_to_string(path).map_err(EvalError::io(path))?;
        let value: toml::Table = toml::from_str(&text).map_err(|e| {
            EvalError::Config(hico_core::ConfigError::Parse {
                path: path.into(),
                message: e.message().to_string(),
            })
        })?;
        let kind = value
            .get("benchmark")
            .and_then(|b| b.get("kind"))
            .and_then(|k| k.as_str());
        if kind.and_then(|k| k.parse::<Task>().ok()).is_none() {
            return Ok(None);
        }
        Ok(Some(hico_core::config::load_toml(path)?))
    }

    /// The output folder.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            PathBuf::from("runs").join(if self.name.is_empty() {
                "ablation"
            } else {
                &self.name
            })
        })
    }
}

/// Run every cell (building its pipeline with `build`), then write `results.csv`,
/// `results.md` and `paired.json` into the output folder. `log` gets progress lines.
pub fn run_public_grid<B: hico_backend::HicoBackend>(
    exp: &PublicExperiment,
    path: &Path,
    build: impl Fn(&PipelineConfig) -> Result<Pipeline<B>, String>,
    mut log: impl FnMut(&str),
) -> Result<Vec<PublicRow>, EvalError> {
    let out = exp.out_dir();
    let cells = expand_grid(&exp.base, &exp.overrides, &exp.grid, path)?;
    for (i, p) in exp.paired.iter().enumerate() {
        for (key, name) in [("a", &p.a), ("b", &p.b)] {
            if !cells.iter().any(|c| &c.name == name) {
                return Err(EvalError::Spec {
                    path: path.into(),
                    key: format!("paired[{i}].{key}"),
                    message: format!("no cell `{name}`"),
                });
            }
        }
    }
    std::fs::create_dir_all(out.join("cells")).map_err(EvalError::io(&out))?;
    write_json(&out.join("experiment.json"), exp)?;
    let b = &exp.benchmark;
    let mut rows = Vec::new();
    for (k, cell) in cells.iter().enumerate() {
        log(&format!("cell {}/{} {}", k + 1, cells.len(), cell.name));
        let mut cfg = cell.config.clone();
        public::apply_settings(&mut cfg, b.kind, b.max_frames);
        let dir = out.join("cells").join(&cell.name);
        std::fs::create_dir_all(&dir).map_err(EvalError::io(&dir))?;
        write_json(&dir.join("config.json"), &cfg)?;
        let pipe = build(&cfg).map_err(|message| EvalError::Model {
            sample: cell.name.clone(),
            message,
        })?;
        let opts = public::Options {
            task: b.kind,
            data: b.data.clone(),
            out: dir.clone(),
            limit: b.limit,
            shard: None,
            max_skipped: b.max_skipped,
            prefetch: true,
        };
        let s = public::run(&pipe, &opts, &mut log)?;
        let preds = predictions::read(&dir, false)?;
        let visual_tokens =
            preds.iter().map(|p| p.visual_tokens as f64).sum::<f64>() / preds.len().max(1) as f64;
        rows.push(PublicRow {
            cell: cell.name.clone(),
            labels: cell
                .values
                .iter()
                .map(|(k, v)| (k.clone(), label(v)))
                .collect(),
            results: s.results,
            visual_tokens,
        });
    }
    let mut paired = Vec::new();
    for p in &exp.paired {
        let read = |name: &str| predictions::read(&out.join("cells").join(name), false);
        let cmp = report::compare(&read(&p.a)?, &read(&p.b)?);
        paired.push((p.clone(), cmp.into_iter().next()));
    }
    write_tables(&out, exp, &rows, &paired)?;
    Ok(rows)
}

fn write_tables(
    out: &Path,
    exp: &PublicExperiment,
    rows: &[PublicRow],
    paired: &[(PairSpec, Option<report::PairedRow>)],
) -> Result<(), EvalError> {
    let mut csv = String::from("cell,score,low95,high95,n,correct,answered,visual_tokens\n");
    let mut md = format!(
        "# {} on {} ({})\n\n| cell | score | 95 % interval | correct / answered | n | visual tokens |\n|---|---|---|---|---|---|\n",
        if exp.name.is_empty() {
            "ablation"
        } else {
            &exp.name
        },
        exp.benchmark.kind,
        rows.first().map_or("", |r| r.results.metric.as_str())
    );
    for r in rows {
        let (correct, answered) = (r.results.correct, r.results.answered);
        let _ = writeln!(
            csv,
            "{},{:.6},{:.6},{:.6},{},{},{},{:.1}",
            r.cell,
            r.results.score,
            r.results.low,
            r.results.high,
            r.results.n,
            correct,
            answered,
            r.visual_tokens
        );
        let _ = writeln!(
            md,
            "| {} | {:.3} | [{:.3}, {:.3}] | {correct} / {answered} | {} | {:.1} |",
            r.cell, r.results.score, r.results.low, r.results.high, r.results.n, r.visual_tokens
        );
    }
    if !paired.is_empty() {
        md.push_str(
            "\n## Paired comparisons (same questions, exact McNemar test)\n\n| claim | a | b | n | right in a only | right in b only | p |\n|---|---|---|---|---|---|---|\n",
        );
        for (p, row) in paired {
            match row {
                Some(r) => {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | {} | {} | {} | {} |",
                        p.claim,
                        p.a,
                        p.b,
                        r.n,
                        r.a_only,
                        r.b_only,
                        fmt_p(r.p)
                    );
                }
                None => {
                    let _ = writeln!(
                        md,
                        "| {} | {} | {} | 0 | - | - | no shared question |",
                        p.claim, p.a, p.b
                    );
                }
            }
        }
    }
    let csv_path = out.join("results.csv");
    std::fs::write(&csv_path, csv).map_err(EvalError::io(&csv_path))?;
    let md_path = out.join("results.md");
    std::fs::write(&md_path, md).map_err(EvalError::io(&md_path))?;
    write_json(&out.join("paired.json"), &paired)
}
