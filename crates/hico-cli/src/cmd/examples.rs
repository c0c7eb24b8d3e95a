//! Patch-overlay pictures of the questions an ablation recorded in full
//! (`cells/<cell>/examples/{correct,wrong}/`, see `score.examples`): the sampled frames are
//! decoded again from the benchmark video and every patch is drawn as kept, merged or
//! dropped at each decoder layer (`hico_viz::patch_overlay`), into
//! `plots/examples/<cell>__<kind>.{png,svg}`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use hico_core::{provenance::Provenance, trace::RetentionTrace};
use hico_video::FrameReader;

/// Draw every recorded example under `model/cells/*/examples/*/` (a model's folder: the
/// ablation's, or one seed's) into `out/plots/examples/`; returns the files written.
pub fn draw_examples(model: &Path, dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let cells = model.join("cells");
    let Ok(entries) = std::fs::read_dir(&cells) else {
        return Ok(files);
    };
    let mut cell_dirs: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    cell_dirs.sort();
    for cell in cell_dirs {
        for kind in ["correct", "wrong"] {
            let ex = cell.join("examples").join(kind);
            if ex.join("question.json").exists() {
                let name = cell.file_name().unwrap_or_default().to_string_lossy();
                let stem = dir
                    .join("plots")
                    .join("examples")
                    .join(format!("{name}__{kind}"));
                files.extend(
                    draw_one(&ex, &name, kind, &stem)
                        .with_context(|| format!("drawing the example in {}", ex.display()))?,
                );
            }
        }
    }
    Ok(files)
}

/// The folder of the model whose examples are drawn: the lowest `seed-<s>/` of a seeded
/// ablation folder, else the folder itself.
pub fn first_model_dir(dir: &Path) -> PathBuf {
    let seeds = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix("seed-")?.parse::<u64>().ok()
        });
    seeds
        .min()
        .map_or_else(|| dir.to_path_buf(), |s| dir.join(format!("seed-{s}")))
}

fn draw_one(ex: &Path, cell: &str, kind: &str, stem: &Path) -> Result<Vec<PathBuf>> {
    let q: serde_json::Value = hico_viz::load_json(&ex.join("question.json"))?;
    let prov: Provenance = hico_viz::load_json(&ex.join("provenance.json"))?;
    let trace: RetentionTrace = hico_viz::load_json(&ex.join("retention.json"))?;
    let cfg: serde_json::Value = hico_viz::load_json(&ex.join("config.json"))?;
    let size = cfg["video"]["size"]
        .as_u64()
        .context("config.json: no video.size")? as usize;
    let video = PathBuf::from(q["video"].as_str().context("question.json: no video")?);
    let frames = FrameReader::open(&video)?.read(&prov.frame_indices, size)?;
    let rgb = (0..frames.count)
        .map(|k| frames.frame(k).to_vec())
        .collect();
    // The sampled frames that show the object: inside a needle clip.
    let needles: Vec<(usize, usize)> = q["needles"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|n| n["start"].as_u64())
                .map(|s| {
                    (
                        s as usize,
                        s as usize + cfg["video"]["clip_len"].as_u64().unwrap_or(4) as usize,
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let highlight: Vec<usize> = prov
        .frame_indices
        .iter()
        .enumerate()
        .filter(|(_, f)| needles.iter().any(|&(a, b)| (a..b).contains(*f)))
        .map(|(i, _)| i)
        .collect();
    let title = format!(
        "{cell}: a {kind} answer (truth {} {}, predicted {})",
        q["answer"].as_str().unwrap_or("?"),
        q["answer_text"].as_str().unwrap_or(""),
        q["predicted"].as_str().unwrap_or("?"),
    );
    Ok(hico_viz::patch_overlay(
        &hico_viz::Frames { side: size, rgb },
        &prov,
        &trace,
        &highlight,
        &title,
        stem,
    )?)
}
