//! The cells by budget: which compression method acts in a cell ([`method_of`]), and the
//! table of every cell sorted by the visual tokens the LLM kept, with its accuracy over the
//! seeds and its measured prefill time ([`budget_markdown`]).

use hico_core::config::PipelineConfig;

use super::{report::Row, seeds::ModelResult};
use crate::stats::{Z95, wilson};

/// The method that compresses in a cell: the `[video_compressor]` kind when one is set,
/// else the `[dropout]` kind (in-LLM), else the `[kv_cache]` kind, else the clip
/// compressor's kind (`identity` keeps every token).
pub fn method_of(cfg: &PipelineConfig) -> String {
    if !cfg.video_compressor.is_none() {
        return cfg.video_compressor.kind().to_string();
    }
    let dropout = cfg.dropout.kind();
    if dropout != "none" {
        return dropout.to_string();
    }
    if !cfg.kv_cache.is_none() {
        return cfg.kv_cache.kind().to_string();
    }
    cfg.compressor.kind().to_string()
}

/// One cell over the seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    /// Cell name.
    pub cell: String,
    /// [`method_of`] the cell.
    pub method: String,
    /// Visual tokens entering the LLM, mean over questions and seeds.
    pub visual_tokens: f64,
    /// Visual tokens per decoder layer, mean over layers, questions and seeds.
    pub layer_visual_tokens: f64,
    /// Right answers summed over the seeds.
    pub correct: usize,
    /// Questions asked summed over the seeds (skipped ones included, counted wrong).
    pub asked: usize,
    /// Mean accuracy over the seeds.
    pub accuracy: f64,
    /// Prefill milliseconds per question, mean over the seeds.
    pub prefill_ms: f64,
    /// `[video_compressor]` milliseconds per question, mean over the seeds.
    pub slot_ms: f64,
    /// Seeds whose row scored.
    pub seeds: usize,
}

/// Every cell that scored in at least one model, averaged over the models, sorted by
/// `layer_visual_tokens` (largest first), then accuracy (highest first), then name.
pub fn budget_rows(results: &[ModelResult]) -> Vec<BudgetRow> {
    let mut out: Vec<BudgetRow> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for r in results.iter().flat_map(|m| &m.rows) {
        if !names.contains(&r.cell.as_str()) {
            names.push(&r.cell);
        }
    }
    for name in names {
        let rows: Vec<&Row> = results
            .iter()
            .flat_map(|m| m.rows.iter().filter(|r| r.cell == name))
            .filter(|r| r.error.is_none() && r.accuracy.is_some())
            .collect();
        let Some(first) = rows.first() else { continue };
        let k = rows.len() as f64;
        let mean = |f: &dyn Fn(&Row) -> f64| rows.iter().map(|r| f(r)).sum::<f64>() / k;
        out.push(BudgetRow {
            cell: name.to_string(),
            method: first.method.clone(),
            visual_tokens: mean(&|r| r.visual_tokens),
            layer_visual_tokens: mean(&|r| r.layer_visual_tokens),
            correct: rows.iter().map(|r| r.correct).sum(),
            asked: rows.iter().map(|r| r.n + r.skipped).sum(),
            accuracy: mean(&|r| r.accuracy.unwrap_or(0.0)),
            prefill_ms: mean(&|r| r.prefill_ms),
            slot_ms: mean(&|r| r.slot_ms),
            seeds: rows.len(),
        });
    }
    out.sort_by(|a, b| {
        b.layer_visual_tokens
            .total_cmp(&a.layer_visual_tokens)
            .then(b.accuracy.total_cmp(&a.accuracy))
            .then(a.cell.cmp(&b.cell))
    });
    out
}

/// The table of [`budget_rows`]: kept tokens, their share of the most any cell kept (the
/// uncompressed cell's count when the grid has one), accuracy with the 95 % Wilson
/// interval of the answers pooled over the seeds, and the measured times.
pub fn budget_markdown(results: &[ModelResult]) -> String {
    let rows = budget_rows(results);
    let Some(full) = rows
        .iter()
        .map(|r| r.visual_tokens)
        .max_by(f64::total_cmp)
        .filter(|m| *m > 0.0)
    else {
        return String::new();
    };
    let mut t = format!(
        "\n## Cells by budget (visual tokens kept), mean over the models\n\n\
         Share: the mean visual tokens per decoder layer over the most any cell passed to the \
         LLM ({full:.0}). Interval: 95 % Wilson of the answers pooled over the models. Times: \
         wall clock per question, mean over questions and models (prefill: prompt assembly \
         to the last position's logits on the host; video slot: the whole-video method).\n\n\
         | cell | method | visual tokens into the LLM | per layer (mean) | share | accuracy | \
         95 % CI | right / asked | models | prefill ms | video slot ms |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n"
    );
    for r in &rows {
        let ci = wilson(r.correct, r.asked, Z95);
        t += &format!(
            "| {} | {} | {:.1} | {:.1} | {:.1} % | {:.3} | [{:.3}, {:.3}] | {} / {} | {} | \
             {:.2} | {:.2} |\n",
            r.cell,
            r.method,
            r.visual_tokens,
            r.layer_visual_tokens,
            100.0 * r.layer_visual_tokens / full,
            r.accuracy,
            ci.low,
            ci.high,
            r.correct,
            r.asked,
            r.seeds,
            r.prefill_ms,
            r.slot_ms,
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cell: &str, method: &str, tokens: f64, correct: usize, ms: f64) -> Row {
        Row {
            cell: cell.into(),
            compressor: "identity".into(),
            tokens_per_frame: None,
            dropout: "none".into(),
            method: method.into(),
            labels: Vec::new(),
            accuracy: Some(correct as f64 / 10.0),
            correct,
            exact_match: None,
            visual_tokens: tokens,
            layer_visual_tokens: tokens,
            encode_ms: 0.0,
            slot_ms: 0.5,
            prefill_ms: ms,
            frames: 16.0,
            prefill_gflop: 0.0,
            kv_kib: 0.0,
            seconds: 0.0,
            seed: None,
            n: 10,
            skipped: 0,
            predicted: [0; 4],
            by_depth: Vec::new(),
            error: None,
            model: String::new(),
            hico_version: String::new(),
            git_commit: String::new(),
        }
    }

    fn model(seed: u64, rows: Vec<Row>) -> ModelResult {
        ModelResult {
            seed: Some(seed),
            dir: std::path::PathBuf::new(),
            rows,
            depth: Vec::new(),
        }
    }

    #[test]
    fn cells_are_pooled_over_seeds_and_sorted_by_budget() {
        let mut failed = row("broken", "divprune", 0.0, 0, 0.0);
        failed.accuracy = None;
        failed.error = Some("boom".into());
        let results = [
            model(
                0,
                vec![
                    row("rand-16", "random", 16.0, 3, 1.0),
                    row("none", "identity", 256.0, 10, 4.0),
                    row("zip-64", "visionzip", 64.0, 9, 2.0),
                    failed.clone(),
                ],
            ),
            model(
                1,
                vec![
                    row("rand-16", "random", 16.0, 5, 3.0),
                    row("none", "identity", 256.0, 9, 6.0),
                    row("zip-64", "visionzip", 64.0, 7, 2.0),
                    failed,
                ],
            ),
        ];
        let rows = budget_rows(&results);
        let cells: Vec<&str> = rows.iter().map(|r| r.cell.as_str()).collect();
        assert_eq!(cells, ["none", "zip-64", "rand-16"]);
        let r = &rows[2];
        assert_eq!((r.correct, r.asked, r.seeds), (8, 20, 2));
        assert!((r.accuracy - 0.4).abs() < 1e-12 && (r.prefill_ms - 2.0).abs() < 1e-12);
        let md = budget_markdown(&results);
        assert!(
            md.contains("| zip-64 | visionzip | 64.0 | 64.0 | 25.0 % | 0.800 |"),
            "{md}"
        );
        // The pooled interval of 8 right of 20.
        let ci = wilson(8, 20, Z95);
        assert!(
            md.contains(&format!("[{:.3}, {:.3}] | 8 / 20 |", ci.low, ci.high)),
            "{md}"
        );
        assert!(!md.contains("broken"), "{md}");
    }

    #[test]
    fn the_method_is_the_slot_that_compresses() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tiny.toml");
        let cfg = |set: &str| {
            let t: toml::Table = toml::from_str(set).unwrap();
            let values: Vec<(String, toml::Value)> = t.into_iter().collect();
            crate::ablate::experiment::resolve_config(&base, &toml::Table::new(), &base, &values)
                .unwrap()
        };
        let none = "\"dropout\" = { kind = \"none\" }\n";
        assert_eq!(method_of(&cfg(none)), "tome");
        assert_eq!(
            method_of(&cfg(&format!(
                "{none}\"compressor\" = {{ kind = \"identity\" }}\n\
                 \"video_compressor\" = {{ kind = \"random\", retention_ratio = 0.5 }}"
            ))),
            "random"
        );
        assert_eq!(method_of(&cfg("")), "uniform0_attention");
        assert_eq!(
            method_of(&cfg(&format!(
                "{none}\"kv_cache\" = {{ kind = \"dycoke\" }}"
            ))),
            "dycoke"
        );
    }
}
