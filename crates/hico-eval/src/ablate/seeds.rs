//! Several trained models over one grid: [`run_seeds`] trains one model per training seed
//! (`[train] seeds`, each in `OUT/seed-<s>/`), scores every cell and the drop-depth cells
//! with each, and [`write_tables`] writes the tables over all of them: every row with its
//! seed, the mean per cell, each `[[paired]]` claim per seed (exact McNemar) and over the
//! seeds (Cochran-Mantel-Haenszel, [`crate::stats::cmh_paired`]), and the depth curve.

use hico_backend::HicoAutodiff;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use hico_core::config::PipelineConfig;
use hico_model::Pipeline;
use indicatif::MultiProgress;
use serde::{Deserialize, Serialize};

use super::{
    budget::budget_markdown,
    depth::{DepthPoint, depth_cells, depth_markdown, depth_points, write_depth_csvs},
    experiment::Experiment,
    report::{Row, md_clean, mean_by_depth, write_csv, write_markdown},
    runner::{
        GridSummary, ModelRun, cell_dir, checked_cells, prepare_benchmark, question_scores,
        score_cells,
    },
    train::ensure_trained,
};
use crate::{
    EvalError,
    score::write_niah_csv,
    stats::{Cmh, Paired, Z95, cmh_paired, fmt_p, wilson},
    write_json,
};

/// What one model gave: its rows (grid order) and its drop-depth points.
#[derive(Debug, Clone)]
pub struct ModelResult {
    /// The training seed (`None` outside a seeded run).
    pub seed: Option<u64>,
    /// The model's folder (holding `cells/`).
    pub dir: PathBuf,
    /// Its grid rows.
    pub rows: Vec<Row>,
    /// Its drop-depth curve (empty for an untrained model).
    pub depth: Vec<DepthPoint>,
}

/// One `[[paired]]` claim tested with one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedPaired {
    /// The training seed.
    pub seed: Option<u64>,
    /// The exact McNemar comparison on this model's answers.
    pub test: Paired,
    /// The claim held: `a` better at the 5 % level.
    pub held: bool,
}

/// One `[[paired]]` claim over every model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeededPaired {
    /// The claim in words.
    pub claim: String,
    /// The cell the claim expects to be better.
    pub a: String,
    /// The cell it is compared with.
    pub b: String,
    /// The test with each model whose two cells were scored.
    pub per_seed: Vec<SeedPaired>,
    /// Models in which the claim held.
    pub held_in: usize,
    /// The stratified McNemar (CMH) test over the models.
    pub combined: Cmh,
    /// The verdict in words.
    pub verdict: String,
}

impl SeededPaired {
    /// Combine the per-model tests of one claim.
    pub fn new(claim: &str, a: &str, b: &str, per_seed: Vec<SeedPaired>) -> Self {
        let strata: Vec<(usize, usize)> = per_seed
            .iter()
            .map(|s| (s.test.a_only, s.test.b_only))
            .collect();
        let combined = cmh_paired(&strata);
        let held_in = per_seed.iter().filter(|s| s.held).count();
        let r = per_seed.len();
        let verdict = if r == 1 {
            seed_verdict(&per_seed[0])
        } else {
            let how = match held_in {
                0 => "in no seed",
                k if k == r => "in every seed",
                _ => "in some seeds",
            };
            let over = match (combined.p_value < 0.05, combined.a_only > combined.b_only) {
                (true, true) => "held over the seeds",
                (true, false) => "reversed over the seeds",
                (false, _) => "not shown over the seeds",
            };
            format!(
                "held {how} ({held_in}/{r}); {over} (CMH χ² = {:.2}, p = {})",
                combined.statistic,
                fmt_p(combined.p_value)
            )
        };
        Self {
            claim: claim.into(),
            a: a.into(),
            b: b.into(),
            per_seed,
            held_in,
            combined,
            verdict,
        }
    }
}

/// `held`, `reversed` or `not shown`, with the p-value and the direction.
fn seed_verdict(s: &SeedPaired) -> String {
    let t = &s.test;
    let p = fmt_p(t.p_value);
    match (s.held, t.p_value < 0.05, t.a_only.cmp(&t.b_only)) {
        (true, _, _) => format!("held (p = {p})"),
        (false, true, _) => format!("reversed: b better (p = {p})"),
        (false, false, std::cmp::Ordering::Greater) => {
            format!("not shown (p = {p}; direction as claimed)")
        }
        (false, false, std::cmp::Ordering::Less) => {
            format!("not shown (p = {p}; direction reversed)")
        }
        (false, false, std::cmp::Ordering::Equal) => format!("not shown (p = {p}; no difference)"),
    }
}

/// Train (or reuse) one model per seed of `exp` (file `exp_path`), score every grid cell
/// and, for a trained model, the drop-depth cells with each, and write the tables over all
/// of them. Returns what ran; cell names in `ran`, `skipped` and `failed` carry their seed
/// (`seed-<s>/<cell>`).
pub fn run_seeds<B: HicoAutodiff>(
    exp: &Experiment,
    exp_path: &Path,
    multi: &MultiProgress,
    device: &Device<B>,
) -> Result<GridSummary, EvalError> {
    let out = exp.out_dir();
    let (bench, manifest) = prepare_benchmark(exp, exp_path, &out, multi)?;
    eprintln!(
        "benchmark: {} questions in {}",
        manifest.samples.len(),
        bench.display()
    );
    let cells = checked_cells(exp, exp_path)?;
    let depth = match &exp.train {
        Some(_) => depth_cells(exp, exp_path)?,
        None => Vec::new(),
    };
    let mut summary = GridSummary {
        out: out.clone(),
        ran: Vec::new(),
        skipped: Vec::new(),
        failed: Vec::new(),
        rows: Vec::new(),
        paired: Vec::new(),
    };
    let mut results = Vec::new();
    for seed in exp.seeds() {
        let dir = out.join(format!("seed-{seed}"));
        let trained = ensure_trained::<B>(exp, exp_path, &dir, seed, multi, device)?;
        match &trained {
            Some(t) => eprintln!(
                "model (seed {seed}): {} ({} steps on {} questions, final loss {:.4})",
                t.checkpoint.display(),
                t.steps,
                t.samples,
                t.final_loss
            ),
            None => eprintln!(
                "model (seed {seed}): random initialisation (the experiment has no [train])"
            ),
        }
        let build = |cfg: &PipelineConfig| -> Result<Pipeline<B::InnerBackend>, String> {
            match &trained {
                Some(t) => hico_train::load_trained::<B::InnerBackend>(cfg, &t.checkpoint, device)
                    .map_err(|e| e.to_string()),
                None => {
                    let mut cfg = cfg.clone();
                    cfg.seed = cfg.seed.wrapping_add(seed);
                    Pipeline::new(cfg, device).map_err(|e| e.to_string())
                }
            }
        };
        // Cells scored with another model (e.g. before a retrain) are run again.
        let run = ModelRun {
            dir: dir.clone(),
            key: trained
                .as_ref()
                .map_or_else(|| format!("random-seed-{seed}"), |t| t.key.to_string()),
            seed: Some(seed),
        };
        let grid = score_cells(exp, &cells, &run, &bench, &manifest, &build, multi)?;
        let probe = score_cells(exp, &depth, &run, &bench, &manifest, &build, multi)?;
        let tag = |v: &[String]| -> Vec<String> {
            v.iter().map(|c| format!("seed-{seed}/{c}")).collect()
        };
        for g in [&grid, &probe] {
            summary.ran.extend(tag(&g.ran));
            summary.skipped.extend(tag(&g.skipped));
            summary.failed.extend(tag(&g.failed));
        }
        summary.rows.extend(grid.rows.iter().cloned());
        results.push(ModelResult {
            seed: Some(seed),
            dir,
            rows: grid.rows,
            depth: depth_points(&probe.rows),
        });
    }
    summary.paired = write_tables(exp, &out, &results)?;
    Ok(summary)
}

/// Write the tables over every model into `out`: `results.csv`, `results.md`,
/// `paired.json`, `niah.csv` and, when the models have depth curves, `depth_curve.csv` and
/// `depth_curve_seeds.csv`. Returns the paired comparisons.
pub fn write_tables(
    exp: &Experiment,
    out: &Path,
    results: &[ModelResult],
) -> Result<Vec<SeededPaired>, EvalError> {
    let rows: Vec<Row> = results.iter().flat_map(|r| r.rows.clone()).collect();
    let paired = seeded_paired(exp, results);
    write_json(&out.join("paired.json"), &paired)?;
    write_csv(&out.join("results.csv"), &rows)?;
    let mut sections = String::new();
    if results.len() > 1 {
        sections += &means_markdown(results);
    }
    if !paired.is_empty() {
        sections += &paired_markdown(&paired, results.len());
    }
    sections += &budget_markdown(results);
    if results.iter().any(|r| !r.depth.is_empty()) {
        write_depth_csvs(out, results)?;
        sections += &depth_markdown(results);
    }
    let title = if exp.name.is_empty() {
        "ablation"
    } else {
        &exp.name
    };
    write_markdown(&out.join("results.md"), title, &rows, &sections)?;
    write_niah_csv(&out.join("niah.csv"), &mean_by_depth(&rows))?;
    Ok(paired)
}

/// Each `[[paired]]` claim with every model whose two cells have scores.
fn seeded_paired(exp: &Experiment, results: &[ModelResult]) -> Vec<SeededPaired> {
    exp.paired
        .iter()
        .map(|p| {
            let per_seed = results
                .iter()
                .filter_map(|m| {
                    let a = question_scores(&cell_dir(&m.dir, &p.a)).ok()?;
                    let b = question_scores(&cell_dir(&m.dir, &p.b)).ok()?;
                    let test = Paired::new(&p.claim, (&p.a, &a), (&p.b, &b));
                    let held = test.p_value < 0.05 && test.a_only > test.b_only;
                    Some(SeedPaired {
                        seed: m.seed,
                        test,
                        held,
                    })
                })
                .collect();
            SeededPaired::new(&p.claim, &p.a, &p.b, per_seed)
        })
        .filter(|p| !p.per_seed.is_empty())
        .collect()
}

fn seed_name(seed: Option<u64>) -> String {
    seed.map_or_else(|| "—".into(), |s| s.to_string())
}

/// Per cell: the mean accuracy over the models and each model's accuracy with its 95 %
/// Wilson interval.
fn means_markdown(results: &[ModelResult]) -> String {
    let mut t = String::from("\n## Accuracy per cell over the seeds\n\n| cell | mean |");
    for r in results {
        t += &format!(" seed {} (95 % CI) |", seed_name(r.seed));
    }
    t += "\n|---|---|";
    t += &"---|".repeat(results.len());
    t += "\n";
    for row in &results[0].rows {
        let of_cell: Vec<Option<&Row>> = results
            .iter()
            .map(|m| m.rows.iter().find(|r| r.cell == row.cell))
            .collect();
        let accs: Vec<f64> = of_cell
            .iter()
            .flatten()
            .filter_map(|r| r.accuracy)
            .collect();
        let mean = match accs.is_empty() {
            true => "—".into(),
            false => format!("{:.3}", accs.iter().sum::<f64>() / accs.len() as f64),
        };
        t += &format!("| {} | {mean} |", row.cell);
        for r in of_cell {
            t += &match r.and_then(|r| r.interval()) {
                Some(ci) => format!(
                    " {:.3} [{:.3}, {:.3}] ({}/{}) |",
                    ci.p, ci.low, ci.high, ci.k, ci.n
                ),
                None => " — |".into(),
            };
        }
        t += "\n";
    }
    t
}

/// The paired comparisons: each claim per model, then (with several models) over them.
pub fn paired_markdown(paired: &[SeededPaired], models: usize) -> String {
    let mut t = String::from(
        "\n## Paired comparisons per seed (same questions, exact McNemar test)\n\n\
         | claim | seed | a | b | n | acc a | acc b | right in a only | right in b only | p | \
         verdict |\n|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for p in paired {
        for s in &p.per_seed {
            let x = &s.test;
            t += &format!(
                "| {} | {} | {} | {} | {} | {:.3} | {:.3} | {} | {} | {} | {} |\n",
                md_clean(&p.claim),
                seed_name(s.seed),
                p.a,
                p.b,
                x.n,
                x.acc_a,
                x.acc_b,
                x.a_only,
                x.b_only,
                fmt_p(x.p_value),
                seed_verdict(s),
            );
        }
    }
    if models > 1 {
        t += "\n## Paired comparisons over the seeds (stratified McNemar: Cochran-Mantel-Haenszel, \
              strata = seeds)\n\n\
              | claim | held in | right in a only (sum) | right in b only (sum) | CMH χ² | p | \
              verdict |\n|---|---|---|---|---|---|---|\n";
        for p in paired {
            t += &format!(
                "| {} | {}/{} | {} | {} | {:.2} | {} | {} |\n",
                md_clean(&p.claim),
                p.held_in,
                p.per_seed.len(),
                p.combined.a_only,
                p.combined.b_only,
                p.combined.statistic,
                fmt_p(p.combined.p_value),
                p.verdict,
            );
        }
    }
    t
}

/// The pooled Wilson interval of `k` right out of `n` (for the depth table).
pub(crate) fn ci(k: usize, n: usize) -> String {
    let w = wilson(k, n, Z95);
    format!("[{:.3}, {:.3}]", w.low, w.high)
}
