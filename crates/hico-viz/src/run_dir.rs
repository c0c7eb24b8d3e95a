//! Reading a run or ablation directory and drawing every plot its files allow (the layout
//! is documented in the crate header).

use std::path::{Path, PathBuf};

use hico_core::provenance::Provenance;
use hico_core::trace::{AttentionCapture, RetentionTrace};
use serde::de::DeserializeOwned;

use crate::{
    DepthSeries, NiahCell, TokenPoint, VizError, accuracy_vs_tokens, attention_heatmap,
    depth_curve, drop_pattern, loss_curve, niah_heatmap, retention_lines,
};

/// One row of an ablation's `results.csv` (the columns this crate reads).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultRow {
    /// Cell name (its directory under `cells/`).
    pub cell: String,
    /// Compressor label.
    pub compressor: String,
    /// Visual tokens per frame after compression. An empty field falls back to
    /// `visual_tokens / frames` when the CSV has a `frames` column; else `None`.
    pub tokens_per_frame: Option<f64>,
    /// Dropout-schedule label.
    pub dropout: String,
    /// Accuracy, `None` if the cell failed (empty or unparsable field).
    pub accuracy: Option<f64>,
    /// Visual tokens entering the LLM, `None` if not recorded.
    pub visual_tokens: Option<f64>,
    /// 95 % interval of the accuracy (`acc_low95`, `acc_high95` columns), if recorded.
    pub interval: Option<(f64, f64)>,
    /// The training seed of the model that scored the row (`seed` column), if recorded.
    pub seed: Option<u64>,
}

/// Read and parse a JSON file; errors name the file.
pub fn load_json<T: DeserializeOwned>(path: &Path) -> Result<T, VizError> {
    let text = std::fs::read_to_string(path).map_err(|source| VizError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| VizError::Json {
        path: path.to_path_buf(),
        source,
    })
}

/// Split one CSV line into fields (double-quoted fields may hold commas and `""`).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                out.last_mut().unwrap().push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out.into_iter().map(|s| s.trim().to_string()).collect()
}

/// Read a CSV file as rows of the named columns (in the order of `cols`; a name in
/// `optional` that the header lacks reads as empty fields).
pub(crate) fn read_csv(
    path: &Path,
    cols: &[&str],
    optional: &[&str],
) -> Result<Vec<Vec<String>>, VizError> {
    let csv_err = |msg: String| VizError::Csv {
        path: path.to_path_buf(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|source| VizError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = split_csv(lines.next().ok_or_else(|| csv_err("empty file".into()))?);
    let idx: Vec<Option<usize>> = cols
        .iter()
        .map(|c| match header.iter().position(|h| h == c) {
            Some(i) => Ok(Some(i)),
            None if optional.contains(c) => Ok(None),
            None => Err(csv_err(format!("no column `{c}` in header"))),
        })
        .collect::<Result<_, _>>()?;
    lines
        .enumerate()
        .map(|(n, line)| {
            let f = split_csv(line);
            idx.iter()
                .map(|&i| {
                    let Some(i) = i else {
                        return Ok(String::new());
                    };
                    f.get(i).cloned().ok_or_else(|| {
                        csv_err(format!(
                            "row {}: {} fields, header has {}",
                            n + 2,
                            f.len(),
                            header.len()
                        ))
                    })
                })
                .collect()
        })
        .collect()
}

/// Read an ablation's `results.csv` (columns found by header name).
pub fn read_results_csv(path: &Path) -> Result<Vec<ResultRow>, VizError> {
    let cols = [
        "cell",
        "compressor",
        "tokens_per_frame",
        "dropout",
        "accuracy",
        "visual_tokens",
        "frames",
        "acc_low95",
        "acc_high95",
        "seed",
    ];
    read_csv(path, &cols, &["frames", "acc_low95", "acc_high95", "seed"])?
        .into_iter()
        .enumerate()
        .map(|(n, r)| {
            let visual_tokens: Option<f64> = r[5].parse().ok();
            let tokens_per_frame = if r[2].is_empty() {
                let frames: Option<f64> = r[6].parse().ok().filter(|f: &f64| *f > 0.0);
                visual_tokens.zip(frames).map(|(v, f)| v / f)
            } else {
                Some(r[2].parse().map_err(|_| VizError::Csv {
                    path: path.to_path_buf(),
                    msg: format!("row {}: tokens_per_frame `{}` is not a number", n + 2, r[2]),
                })?)
            };
            Ok(ResultRow {
                cell: r[0].clone(),
                compressor: r[1].clone(),
                tokens_per_frame,
                dropout: r[3].clone(),
                accuracy: r[4].parse().ok().filter(|a: &f64| a.is_finite()),
                visual_tokens,
                interval: r[7].parse().ok().zip(r[8].parse().ok()),
                seed: r[9].parse().ok(),
            })
        })
        .collect()
}

/// Read a `niah.csv` with columns `depth,frames,accuracy`.
pub fn read_niah_csv(path: &Path) -> Result<Vec<NiahCell>, VizError> {
    read_csv(path, &["depth", "frames", "accuracy"], &[])?
        .into_iter()
        .enumerate()
        .map(|(n, r)| {
            let bad = |col: &str, v: &str| VizError::Csv {
                path: path.to_path_buf(),
                msg: format!("row {}: {col} `{v}` is not a number", n + 2),
            };
            Ok(NiahCell {
                depth: r[0].parse().map_err(|_| bad("depth", &r[0]))?,
                frames: r[1].parse().map_err(|_| bad("frames", &r[1]))?,
                accuracy: r[2].parse().map_err(|_| bad("accuracy", &r[2]))?,
            })
        })
        .collect()
}

/// One row per cell: rows of the same cell scored by several models (seeds) become their
/// mean accuracy, with the interval from the lowest seed's lower end to the highest seed's
/// upper end (so the bar shows the spread between models too); the first seed's row
/// otherwise. Cells keep their first-seen order.
pub fn mean_over_seeds(rows: &[ResultRow]) -> Vec<ResultRow> {
    let mut out: Vec<(ResultRow, Vec<f64>)> = Vec::new();
    for r in rows {
        match out.iter_mut().find(|(o, _)| o.cell == r.cell) {
            None => out.push((r.clone(), r.accuracy.into_iter().collect())),
            Some((o, accs)) => {
                accs.extend(r.accuracy);
                o.interval = match (o.interval, r.interval) {
                    (Some((a, b)), Some((c, d))) => Some((a.min(c), b.max(d))),
                    _ => None,
                };
            }
        }
    }
    out.into_iter()
        .map(|(mut o, accs)| {
            if !accs.is_empty() {
                o.accuracy = Some(accs.iter().sum::<f64>() / accs.len() as f64);
            }
            o
        })
        .collect()
}

/// The folder of a cell's files: `seed-<s>/cells/<cell>` for a row scored by seed `s`
/// (the layout of a seeded ablation), else `cells/<cell>`.
fn cell_dir(dir: &Path, r: &ResultRow) -> PathBuf {
    match r.seed {
        Some(s) if dir.join(format!("seed-{s}")).exists() => {
            dir.join(format!("seed-{s}")).join("cells").join(&r.cell)
        }
        _ => dir.join("cells").join(&r.cell),
    }
}

/// The points of the accuracy-vs-tokens plot. When the rows carry intervals: one point per
/// cell with its interval, series = compressor (and dropout, when the grid has several).
/// Otherwise the mean accuracy per (compressor, tokens per frame), averaged over the other
/// grid axes. Failed cells (no accuracy) and rows without a tokens-per-frame value are left
/// out.
pub fn token_points(rows: &[ResultRow]) -> Vec<TokenPoint> {
    let ok = || {
        rows.iter()
            .filter(|r| r.accuracy.is_some() && r.tokens_per_frame.is_some())
    };
    if ok().next().is_some() && ok().all(|r| r.interval.is_some()) {
        let several = ok().any(|r| r.dropout != rows[0].dropout);
        return ok()
            .map(|r| TokenPoint {
                series: if several {
                    format!("{}, dropout {}", r.compressor, r.dropout)
                } else {
                    r.compressor.clone()
                },
                tokens_per_frame: r.tokens_per_frame.unwrap_or_default(),
                accuracy: r.accuracy.unwrap_or_default(),
                interval: r.interval,
            })
            .collect();
    }
    let mut acc: Vec<(String, f64, f64, usize)> = Vec::new();
    for r in rows {
        let (Some(a), Some(t)) = (r.accuracy, r.tokens_per_frame) else {
            continue;
        };
        match acc.iter_mut().find(|e| e.0 == r.compressor && e.1 == t) {
            Some(e) => {
                e.2 += a;
                e.3 += 1;
            }
            None => acc.push((r.compressor.clone(), t, a, 1)),
        }
    }
    acc.into_iter()
        .map(|(series, tokens_per_frame, s, n)| TokenPoint {
            series,
            tokens_per_frame,
            accuracy: s / n as f64,
            interval: None,
        })
        .collect()
}

/// Single-run plots of `dir` (needs `retention.json` and `provenance.json`; `attention.json`
/// optional) into `out`, titled with `name`.
fn plot_single(dir: &Path, out: &Path, name: &str) -> Result<Vec<PathBuf>, VizError> {
    let trace: RetentionTrace = load_json(&dir.join("retention.json"))?;
    let prov: Provenance = load_json(&dir.join("provenance.json"))?;
    let mut files = retention_lines(
        &[(name.to_string(), trace.clone())],
        &format!("Visual tokens kept per layer: {name}"),
        &out.join("retention"),
    )?;
    files.extend(drop_pattern(
        &trace,
        &prov,
        &format!("Frames' visual tokens kept per layer: {name}"),
        &out.join("drop_pattern"),
    )?);
    let att = dir.join("attention.json");
    if att.exists() {
        let cap: AttentionCapture = load_json(&att)?;
        files.extend(attention_heatmap(
            &cap,
            &format!("Query attention over video time: {name}"),
            &out.join("attention"),
        )?);
    }
    Ok(files)
}

/// Ablation plots of `dir` (which holds `results.csv`) into `out`.
fn plot_ablation(dir: &Path, out: &Path) -> Result<Vec<PathBuf>, VizError> {
    let all = read_results_csv(&dir.join("results.csv"))?;
    let mut seeds: Vec<u64> = all.iter().filter_map(|r| r.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    let rows = mean_over_seeds(&all);
    let mut files = Vec::new();
    if let Some(points) = crate::zoo::read_cost_points(&dir.join("results.csv"))? {
        files.extend(crate::zoo::cost_plots(&points, out)?);
    }
    let points = token_points(&rows);
    if !points.is_empty() {
        files.extend(accuracy_vs_tokens(
            &points,
            if seeds.len() > 1 && points.iter().any(|p| p.interval.is_some()) {
                "Accuracy (mean over seeds) vs tokens per frame; bars: seeds' 95 % CIs"
            } else if points.iter().any(|p| p.interval.is_some()) {
                "Accuracy vs visual tokens per frame (bars: 95 % Wilson intervals)"
            } else {
                "Accuracy vs visual tokens per frame (mean over dropout schedules)"
            },
            &out.join("accuracy_vs_tokens"),
        )?);
    }
    let mut compressors: Vec<&str> = Vec::new();
    for r in &rows {
        if !compressors.contains(&r.compressor.as_str()) {
            compressors.push(&r.compressor);
        }
    }
    for comp in compressors {
        let mut traces = Vec::new();
        let of_comp: Vec<&ResultRow> = rows.iter().filter(|r| r.compressor == comp).collect();
        // Several budgets of one compressor: name each line by budget too, else the legend
        // repeats the schedules.
        let budgets = of_comp
            .iter()
            .any(|r| r.tokens_per_frame != of_comp[0].tokens_per_frame);
        for r in of_comp {
            let path = cell_dir(dir, r).join("retention.json");
            if path.exists() {
                let label = match r.tokens_per_frame {
                    Some(t) if budgets => format!("{}, {t} tok/frame", r.dropout),
                    _ => r.dropout.clone(),
                };
                traces.push((label, load_json::<RetentionTrace>(&path)?));
            }
        }
        if !traces.is_empty() {
            files.extend(retention_lines(
                &traces,
                &format!("Visual tokens kept per layer by dropout schedule ({comp})"),
                &out.join(format!("retention_{}", hico_core::file_safe(comp))),
            )?);
        }
    }
    for r in &rows {
        let cell = cell_dir(dir, r);
        if cell.join("retention.json").exists() && cell.join("provenance.json").exists() {
            let sub = out.join("cells").join(hico_core::file_safe(&r.cell));
            files.extend(plot_single(&cell, &sub, &r.cell)?);
        }
    }
    let niah = dir.join("niah.csv");
    if niah.exists() {
        files.extend(niah_heatmap(
            &read_niah_csv(&niah)?,
            "Needle in a haystack: accuracy",
            &out.join("niah"),
        )?);
    }
    let models: Vec<(String, PathBuf)> = match seeds.is_empty() {
        true => vec![("loss".into(), dir.to_path_buf())],
        false => seeds
            .iter()
            .map(|s| (format!("loss_seed-{s}"), dir.join(format!("seed-{s}"))))
            .collect(),
    };
    for (stem, model_dir) in models {
        let (steps, title) = training_losses(dir, &model_dir)?;
        if !steps.is_empty() {
            let window = (steps.len() / 20).max(1);
            let title = match stem.strip_prefix("loss_") {
                Some(seed) => format!("{title}, {}", seed.replace('-', " ")),
                None => title,
            };
            files.extend(loss_curve(&steps, window, &title, &out.join(stem))?);
        }
    }
    let depth = dir.join("depth_curve.csv");
    if depth.exists() {
        files.extend(plot_depth(dir, &depth, &out.join("depth_curve"))?);
    }
    Ok(files)
}

/// The drop-depth plot from `depth_curve.csv` (`layers_seen,accuracy,n`, the mean over
/// seeds) and, when present, `depth_curve_seeds.csv` (`seed,layers_seen,accuracy,...`): one
/// line per seed and the mean; chance is 1/4 (the benchmarks' four options).
fn plot_depth(dir: &Path, mean: &Path, stem: &Path) -> Result<Vec<PathBuf>, VizError> {
    let num = |path: &Path, v: &str| -> Result<f64, VizError> {
        v.parse().map_err(|_| VizError::Csv {
            path: path.to_path_buf(),
            msg: format!("`{v}` is not a number"),
        })
    };
    let mut series = Vec::new();
    let per_seed = dir.join("depth_curve_seeds.csv");
    if per_seed.exists() {
        for r in read_csv(&per_seed, &["seed", "layers_seen", "accuracy"], &[])? {
            let (l, a) = (num(&per_seed, &r[1])? as usize, num(&per_seed, &r[2])?);
            let name = format!("seed {}", r[0]);
            match series
                .iter_mut()
                .find(|s: &&mut DepthSeries| s.name == name)
            {
                Some(s) => s.points.push((l, a)),
                None => series.push(DepthSeries {
                    name,
                    points: vec![(l, a)],
                }),
            }
        }
    }
    let mut points = Vec::new();
    for r in read_csv(mean, &["layers_seen", "accuracy"], &[])? {
        points.push((num(mean, &r[0])? as usize, num(mean, &r[1])?));
    }
    series.push(DepthSeries {
        name: match series.len() {
            0 | 1 => "uncompressed model".into(),
            n => format!("mean over {n} seeds"),
        },
        points,
    });
    if series.len() == 2 {
        series.remove(0);
    }
    for s in &mut series {
        s.points.sort_by_key(|p| p.0);
    }
    depth_curve(
        &series,
        Some(0.25),
        "Accuracy when every visual token is removed after the first k decoder layers",
        stem,
    )
}

/// The training loss of one model of an ablation folder `dir`, one curve over every phase:
/// the curriculum phases named in `experiment.json` (`train.curriculum[].name`, each in
/// `<model>/curriculum/<name>/train/`) in order, then the main phase (`<model>/train/`),
/// steps counted on across phases; the title says which steps belong to which phase.
/// `model` is `dir` itself, or a seed's folder `dir/seed-<s>`.
fn training_losses(dir: &Path, model: &Path) -> Result<(Vec<(usize, f64)>, String), VizError> {
    let phases: Vec<String> = std::fs::read_to_string(dir.join("experiment.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v["train"]["curriculum"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect();
    let mut files: Vec<(String, PathBuf)> = phases
        .iter()
        .map(|p| (p.clone(), model.join("curriculum").join(p).join("train")))
        .collect();
    files.push(("main".into(), model.join("train")));
    let (mut steps, mut parts) = (Vec::new(), Vec::new());
    for (name, folder) in files {
        let metrics = folder.join("metrics.jsonl");
        if !metrics.exists() {
            continue;
        }
        let offset = steps.len();
        steps.extend(
            read_losses(&metrics)?
                .into_iter()
                .enumerate()
                .map(|(i, (_, l))| (offset + i + 1, l)),
        );
        if steps.len() > offset {
            parts.push(format!("{name} {}-{}", offset + 1, steps.len()));
        }
    }
    let title = if parts.len() > 1 {
        format!("Training loss (steps: {})", parts.join(", "))
    } else {
        "Training loss".to_string()
    };
    Ok((steps, title))
}

/// `(step, loss)` of every line of a hico-train `metrics.jsonl`.
pub fn read_losses(path: &Path) -> Result<Vec<(usize, f64)>, VizError> {
    let text = std::fs::read_to_string(path).map_err(|source| VizError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|source| VizError::Json {
                    path: path.to_path_buf(),
                    source,
                })?;
            let step = v["step"].as_u64();
            let loss = v["loss"].as_f64();
            step.zip(loss)
                .map(|(s, l)| (s as usize, l))
                .ok_or_else(|| VizError::Csv {
                    path: path.to_path_buf(),
                    msg: format!("line {}: no numeric `step` and `loss`", i + 1),
                })
        })
        .collect()
}

/// Draw every plot that the files present in a run dir allow, into `dir/plots/`; returns
/// the files written. An ablation dir (`results.csv`) takes precedence over a single run.
pub fn plot_run_dir(dir: &Path) -> Result<Vec<PathBuf>, VizError> {
    let out = dir.join("plots");
    if dir.join("results.csv").exists() {
        plot_ablation(dir, &out)
    } else if dir.join("retention.json").exists() {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into());
        let mut files = plot_single(dir, &out, &name)?;
        let niah = dir.join("niah.csv");
        if niah.exists() {
            files.extend(niah_heatmap(
                &read_niah_csv(&niah)?,
                "Needle in a haystack: accuracy",
                &out.join("niah"),
            )?);
        }
        Ok(files)
    } else if dir.join("niah.csv").exists() {
        niah_heatmap(
            &read_niah_csv(&dir.join("niah.csv"))?,
            "Needle in a haystack: accuracy",
            &out.join("niah"),
        )
    } else {
        Err(VizError::NothingToPlot {
            dir: dir.to_path_buf(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_with_quotes() {
        assert_eq!(
            split_csv(r#"a,"b,c","d""e",  f "#),
            ["a", "b,c", "d\"e", "f"]
        );
    }

    #[test]
    fn points_average_over_dropout() {
        let row = |c: &str, t: f64, a: Option<f64>| ResultRow {
            cell: "x".into(),
            compressor: c.into(),
            tokens_per_frame: Some(t),
            dropout: "d".into(),
            accuracy: a,
            visual_tokens: None,
            interval: None,
            seed: None,
        };
        let rows = [
            row("tome", 16.0, Some(0.5)),
            row("tome", 16.0, Some(1.0)),
            row("tome", 16.0, None),
            row("pool", 64.0, Some(0.25)),
        ];
        let p = token_points(&rows);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].accuracy, 0.75);
        assert_eq!(p[1].series, "pool");
    }
}
