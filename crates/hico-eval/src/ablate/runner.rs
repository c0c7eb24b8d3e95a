//! Running a grid: build (or reuse) the benchmark set, then for every cell build its
//! pipeline, score the set, and write the cell folder; skip cells already done; record a
//! failing cell (error or panic) and go on; write the tables. [`score_cells`] scores one
//! model's cells into its folder; [`run_grid`] is one model whose folder is OUT itself (the
//! seeded runner, [`crate::ablate::run_seeds`], puts each seed's model in `OUT/seed-<s>/`).
//!
//! Output folder (`M` = the model's folder: OUT, or `OUT/seed-<s>`):
//! ```text
//! OUT/experiment.json             the experiment as resolved
//! OUT/bench/                      the benchmark set (manifest.json, llava.json, videos/)
//! M/cells/<cell>/config.json      resolved config (and the first question's run record:
//!                                 retention.json, ledger.json, provenance.json, summary.json)
//! M/cells/<cell>/scores.json      per-question scores
//! M/cells/<cell>/niah.csv         accuracy per depth × haystack length
//! M/cells/<cell>/skipped.jsonl    questions skipped as unreadable (id, video, reason)
//! M/cells/<cell>/done.json        the cell's result row; skipped on re-run while the model,
//!                                 the cell's config and hico's version and commit are
//!                                 unchanged
//! M/depth/layers-<k>/             the drop-depth cells (trained models; same files)
//! OUT/results.csv, results.md     one row per cell and seed (with its 95 % Wilson interval,
//!                                 hico's version and commit); results.md also holds the
//!                                 means over seeds, the paired comparisons of `[[paired]]`
//!                                 per seed (exact McNemar) and over the seeds (CMH), and
//!                                 the drop-depth curve
//! OUT/paired.json                 the paired comparisons
//! OUT/depth_curve.csv             layers_seen,accuracy,n (mean over seeds; per seed in
//!                                 depth_curve_seeds.csv)
//! OUT/niah.csv                    accuracy per depth × haystack length, mean over cells
//! ```

use hico_backend::HicoBackend;
use std::{
    io::IsTerminal,
    panic::{AssertUnwindSafe, catch_unwind},
    path::{Path, PathBuf},
    time::Instant,
};

use hico_core::config::{CompressorConfig, PipelineConfig};
use hico_model::Pipeline;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::{
    experiment::{Cell, Experiment},
    report::Row,
    seeds::{ModelResult, SeededPaired, write_tables},
};
use crate::{
    EvalError,
    bench::{Manifest, build_set},
    read_json,
    score::{ScoreOptions, score_set, write_niah_csv},
    version::{GIT_COMMIT, HICO_VERSION},
    write_json,
};

/// What a grid run did.
#[derive(Debug, Clone)]
pub struct GridSummary {
    /// The output folder.
    pub out: PathBuf,
    /// Cells run now.
    pub ran: Vec<String>,
    /// Cells skipped because `done.json` existed.
    pub skipped: Vec<String>,
    /// Cells that failed (recorded in the tables with their error).
    pub failed: Vec<String>,
    /// Every cell's row, in grid order (seed by seed in a seeded run).
    pub rows: Vec<Row>,
    /// The experiment's `[[paired]]` comparisons, on the cells' per-question scores.
    pub paired: Vec<SeededPaired>,
}

/// One model a grid is scored with: its folder (holding `cells/`), the key a finished cell
/// must carry to count as done (`random`, or the training cache key), and its seed.
#[derive(Debug, Clone)]
pub struct ModelRun {
    /// The model's folder: OUT, or `OUT/seed-<s>`.
    pub dir: PathBuf,
    /// The model's key (a `done.json` of another model does not count).
    pub key: String,
    /// The training seed (`None` outside a seeded run).
    pub seed: Option<u64>,
}

/// A progress bar in the workspace's style, attached to `multi`.
pub fn bar(multi: &MultiProgress, msg: &str) -> ProgressBar {
    let pb = multi.add(ProgressBar::new(0));
    pb.set_style(
        ProgressStyle::with_template("{msg:>16} [{bar:30}] {pos}/{len} ({elapsed}, eta {eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    pb.set_message(msg.to_string());
    pb
}

/// Build the benchmark set into `OUT/bench`, or reuse it when its manifest holds the same
/// spec and was built by the same code.
pub fn prepare_benchmark(
    exp: &Experiment,
    exp_path: &Path,
    out: &Path,
    multi: &MultiProgress,
) -> Result<(PathBuf, Manifest), EvalError> {
    let dir = out.join("bench");
    if let Ok(m) = Manifest::load(&dir)
        && m.spec == exp.benchmark
        && m.code == crate::version::code_id()
    {
        return Ok((dir, m));
    }
    eprintln!(
        "benchmark: building {} in {}",
        exp.benchmark.kind(),
        dir.display()
    );
    let pb = bar(multi, "benchmark");
    let m = build_set(&exp.benchmark, exp_path, &dir, Some(&pb))?;
    pb.finish_and_clear();
    Ok((dir, m))
}

/// Run every cell of `exp` (file `exp_path`) on the set in `bench` with one model, whose
/// folder is OUT (`cells/` beside the tables), building each cell's pipeline with `build`
/// (random init, or trained weights) for the model named `model` (e.g. `random`, or the
/// training cache key). A cell is skipped when its `done.json` was written for the same
/// model and its `config.json` equals the cell's current config. Returns what ran; writes
/// the tables.
pub fn run_grid<B: HicoBackend>(
    exp: &Experiment,
    exp_path: &Path,
    bench: &Path,
    manifest: &Manifest,
    model: &str,
    build: impl Fn(&PipelineConfig) -> Result<Pipeline<B>, String>,
    multi: &MultiProgress,
) -> Result<GridSummary, EvalError> {
    let out = exp.out_dir();
    let cells = checked_cells(exp, exp_path)?;
    let run = ModelRun {
        dir: out.clone(),
        key: model.to_string(),
        seed: None,
    };
    let mut summary = score_cells(exp, &cells, &run, bench, manifest, &build, multi)?;
    let result = ModelResult {
        seed: None,
        dir: out.clone(),
        rows: summary.rows.clone(),
        depth: Vec::new(),
    };
    summary.paired = write_tables(exp, &out, &[result])?;
    Ok(summary)
}

/// The experiment's cells, after checking that every `[[paired]]` cell and `score.examples`
/// cell exists; writes `OUT/experiment.json`.
pub fn checked_cells(exp: &Experiment, exp_path: &Path) -> Result<Vec<Cell>, EvalError> {
    let out = exp.out_dir();
    std::fs::create_dir_all(&out).map_err(EvalError::io(&out))?;
    write_json(&out.join("experiment.json"), exp)?;
    let cells = exp.cells(exp_path)?;
    for (i, p) in exp.paired.iter().enumerate() {
        for (key, name) in [("a", &p.a), ("b", &p.b)] {
            if !cells.iter().any(|c| &c.name == name) {
                return Err(EvalError::Spec {
                    path: exp_path.into(),
                    key: format!("paired[{i}].{key}"),
                    message: format!(
                        "no cell `{name}`; the cells are: {}",
                        cells
                            .iter()
                            .map(|c| c.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
    }
    for name in &exp.score.examples {
        if !cells.iter().any(|c| &c.name == name) {
            return Err(EvalError::Spec {
                path: exp_path.into(),
                key: "score.examples".into(),
                message: format!("no cell `{name}`"),
            });
        }
    }
    Ok(cells)
}

/// Score `cells` with one model into `run.dir/cells/<cell>/` (or, for cells named
/// `depth/...`, `run.dir/depth/...`), skipping finished ones; the summary's `paired` is
/// left empty (the tables are written over every model).
pub fn score_cells<B: HicoBackend>(
    exp: &Experiment,
    cells: &[Cell],
    run: &ModelRun,
    bench: &Path,
    manifest: &Manifest,
    build: &impl Fn(&PipelineConfig) -> Result<Pipeline<B>, String>,
    multi: &MultiProgress,
) -> Result<GridSummary, EvalError> {
    let model = run.key.as_str();
    // Without a terminal the bars are hidden: one plain line per cell instead.
    let plain = !std::io::stderr().is_terminal();
    let dropout_label = dropout_labeler(cells);
    let opts = ScoreOptions {
        free_form: exp.score.free_form,
        capture_all_layers: exp.score.capture_attention,
        max_skipped: exp.score.max_skipped,
    };
    let cells_bar = bar(multi, "cells");
    cells_bar.set_length(cells.len() as u64);
    let samples_bar = bar(multi, "questions");
    let mut summary = GridSummary {
        out: exp.out_dir(),
        ran: Vec::new(),
        skipped: Vec::new(),
        failed: Vec::new(),
        rows: Vec::new(),
        paired: Vec::new(),
    };
    let who = run.seed.map(|s| format!("seed {s} ")).unwrap_or_default();
    for (index, cell) in cells.iter().enumerate() {
        let dir = cell_dir(&run.dir, &cell.name);
        let done = dir.join("done.json");
        if let Some(mut row) = finished(&dir, cell, model) {
            row.seed = run.seed;
            summary.skipped.push(cell.name.clone());
            summary.rows.push(row);
            cells_bar.inc(1);
            continue;
        }
        cells_bar.set_message(cell.name.clone());
        std::fs::create_dir_all(&dir).map_err(EvalError::io(&dir))?;
        let mut row = empty_row(cell, dropout_label(cell));
        row.model = model.to_string();
        row.seed = run.seed;
        let t0 = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| {
            run_cell(
                cell,
                &dir,
                bench,
                manifest,
                build,
                opts,
                exp.score.examples.contains(&cell.name),
                &samples_bar,
                &mut row,
            )
        }));
        row.seconds = t0.elapsed().as_secs_f64();
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(panic) => Some(format!("panicked: {}", panic_message(&panic))),
        };
        let line = match (&error, row.interval()) {
            (None, Some(ci)) => format!(
                "{who}cell {}/{} {}: accuracy {:.3} [{:.3}, {:.3}] ({}/{}), {:.1} s",
                index + 1,
                cells.len(),
                cell.name,
                ci.p,
                ci.low,
                ci.high,
                ci.k,
                ci.n,
                row.seconds
            ),
            (e, _) => format!(
                "{who}cell {}/{} {}: failed: {}",
                index + 1,
                cells.len(),
                cell.name,
                e.as_deref().unwrap_or("no accuracy")
            ),
        };
        if plain {
            eprintln!("{line}");
        } else {
            multi.println(&line).ok();
        }
        match error {
            None => {
                write_json(&done, &row)?;
                summary.ran.push(cell.name.clone());
            }
            Some(e) => {
                std::fs::write(dir.join("error.txt"), &e).map_err(EvalError::io(&dir))?;
                row.error = Some(e);
                summary.failed.push(cell.name.clone());
            }
        }
        summary.rows.push(row);
        cells_bar.inc(1);
    }
    samples_bar.finish_and_clear();
    cells_bar.finish_and_clear();
    Ok(summary)
}

/// The folder of cell `name` in a model's folder: `cells/<name>`, or `depth/...` for the
/// drop-depth cells (named `depth/layers-<k>`).
pub fn cell_dir(model_dir: &Path, name: &str) -> PathBuf {
    match name.starts_with("depth/") {
        true => model_dir.join(name),
        false => model_dir.join("cells").join(name),
    }
}

/// The per-question `(id, correct)` of a scored cell (its `scores.json`).
pub(crate) fn question_scores(dir: &Path) -> Result<Vec<(String, bool)>, EvalError> {
    #[derive(serde::Deserialize)]
    struct Q {
        id: String,
        correct: bool,
    }
    #[derive(serde::Deserialize)]
    struct Scores {
        samples: Vec<Q>,
    }
    let s: Scores = read_json(&dir.join("scores.json"))?;
    Ok(s.samples.into_iter().map(|q| (q.id, q.correct)).collect())
}

/// The cell's row when it is done for this model, config and code (hico's version and
/// git commit).
fn finished(dir: &Path, cell: &Cell, model: &str) -> Option<Row> {
    let row: Row = read_json(&dir.join("done.json")).ok()?;
    if row.hico_version != HICO_VERSION || row.git_commit != GIT_COMMIT {
        return None;
    }
    let saved: serde_json::Value = read_json(&dir.join("config.json")).ok()?;
    // Through text, as the file was written (f32 fields read back as their shortest form).
    let current: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&cell.config).ok()?).ok()?;
    (row.model == model && saved == current).then_some(row)
}

#[allow(clippy::too_many_arguments)]
fn run_cell<B: HicoBackend>(
    cell: &Cell,
    dir: &Path,
    bench: &Path,
    manifest: &Manifest,
    build: &impl Fn(&PipelineConfig) -> Result<Pipeline<B>, String>,
    opts: ScoreOptions,
    examples: bool,
    pb: &ProgressBar,
    row: &mut Row,
) -> Result<(), String> {
    cell.config
        .write_json(&dir.join("config.json"))
        .map_err(|e| e.to_string())?;
    let pipe = build(&cell.config)?;
    let scores =
        score_set(&pipe, bench, manifest, opts, Some(dir), Some(pb)).map_err(|e| e.to_string())?;
    if let Some(run) = &scores.first_run {
        run.write_dir(dir, &cell.config)
            .map_err(|e| e.to_string())?;
    }
    write_json(&dir.join("scores.json"), &scores).map_err(|e| e.to_string())?;
    if examples {
        record_examples(&pipe, dir, bench, manifest, &scores.samples, &cell.config)
            .map_err(|e| e.to_string())?;
    }
    write_niah_csv(&dir.join("niah.csv"), &scores.by_depth).map_err(|e| e.to_string())?;
    let n = scores.samples.len().max(1) as f64;
    let mean = |f: &dyn Fn(&crate::score::SampleScore) -> f64| {
        scores.samples.iter().map(f).sum::<f64>() / n
    };
    row.accuracy = Some(scores.accuracy);
    row.correct = scores.samples.iter().filter(|s| s.correct).count();
    row.exact_match = scores.exact_match;
    row.visual_tokens = mean(&|s| s.visual_tokens as f64);
    row.layer_visual_tokens = mean(&|s| {
        let l = s.visual_per_layer.len().max(1) as f64;
        s.visual_per_layer.iter().sum::<usize>() as f64 / l
    });
    row.encode_ms = mean(&|s| s.encode_seconds * 1e3);
    row.slot_ms = mean(&|s| s.slot_seconds * 1e3);
    row.prefill_ms = mean(&|s| s.prefill_seconds * 1e3);
    row.frames = mean(&|s| s.sampled_frames as f64);
    row.prefill_gflop = mean(&|s| s.prefill_flops / 1e9);
    row.kv_kib = mean(&|s| s.kv_bytes / 1024.0);
    row.n = scores.samples.len();
    row.skipped = scores.skipped.len();
    row.predicted = scores.predicted_counts;
    row.by_depth = scores.by_depth.clone();
    Ok(())
}

/// Record the first correctly and the first wrongly answered question in full under
/// `dir/examples/{correct,wrong}/` (run record, `question.json` with the video path relative
/// to the set, the answer, the prediction and the needles).
fn record_examples<B: HicoBackend>(
    pipe: &Pipeline<B>,
    dir: &Path,
    bench: &Path,
    manifest: &Manifest,
    scores: &[crate::score::SampleScore],
    config: &PipelineConfig,
) -> Result<(), EvalError> {
    let letters = crate::score::letter_ids(pipe)?;
    for (kind, want) in [("correct", true), ("wrong", false)] {
        let Some(s) = scores.iter().find(|s| s.correct == want) else {
            continue;
        };
        let Some(sample) = manifest.samples.iter().find(|m| m.id == s.id) else {
            continue;
        };
        let (_, run) = crate::score::score_sample(
            pipe,
            bench,
            sample,
            letters,
            ScoreOptions::default(),
            true,
        )?;
        let out = dir.join("examples").join(kind);
        if let Some(run) = run {
            run.write_dir(&out, config).map_err(|e| EvalError::Model {
                sample: sample.id.clone(),
                message: e.to_string(),
            })?;
        }
        write_json(
            &out.join("question.json"),
            &serde_json::json!({
                "id": sample.id,
                "video": bench.join(&sample.video),
                "answer": sample.answer,
                "answer_text": sample.answer_text,
                "predicted": s.predicted,
                "needles": sample.needles,
            }),
        )?;
    }
    Ok(())
}

fn empty_row(cell: &Cell, dropout: String) -> Row {
    let c = &cell.config.compressor;
    let tokens_per_frame = match c {
        CompressorConfig::Identity => None,
        CompressorConfig::Tome { tokens_per_frame }
        | CompressorConfig::TomeOrdered { tokens_per_frame }
        | CompressorConfig::Pool { tokens_per_frame }
        | CompressorConfig::Temporal {
            tokens_per_frame, ..
        } => Some(*tokens_per_frame),
    };
    Row {
        cell: cell.name.clone(),
        compressor: c.kind().into(),
        tokens_per_frame,
        dropout,
        method: super::budget::method_of(&cell.config),
        labels: cell.labels.clone(),
        accuracy: None,
        exact_match: None,
        visual_tokens: 0.0,
        layer_visual_tokens: 0.0,
        encode_ms: 0.0,
        slot_ms: 0.0,
        prefill_ms: 0.0,
        frames: 0.0,
        prefill_gflop: 0.0,
        kv_kib: 0.0,
        seconds: 0.0,
        seed: None,
        n: 0,
        skipped: 0,
        predicted: [0; 4],
        by_depth: Vec::new(),
        error: None,
        model: String::new(),
        correct: 0,
        hico_version: HICO_VERSION.to_string(),
        git_commit: GIT_COMMIT.to_string(),
    }
}

/// The dropout column: the schedule's kind, or the grid label of `dropout` when two cells
/// share a kind with different settings.
fn dropout_labeler(cells: &[Cell]) -> impl Fn(&Cell) -> String + use<> {
    let grid_label = |c: &Cell| {
        c.labels
            .iter()
            .find(|(k, _)| k == "dropout")
            .map(|(_, l)| l.clone())
    };
    let mut pairs: Vec<(&str, Option<String>)> = cells
        .iter()
        .map(|c| (c.config.dropout.kind(), grid_label(c)))
        .collect();
    pairs.sort();
    pairs.dedup();
    let ambiguous = pairs.windows(2).any(|w| w[0].0 == w[1].0);
    move |c: &Cell| match (ambiguous, grid_label(c)) {
        (true, Some(l)) => l,
        _ => c.config.dropout.kind().to_string(),
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
