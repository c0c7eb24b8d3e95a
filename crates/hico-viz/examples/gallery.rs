//! Draw every plot from synthetic data: `cargo run -p hico-viz --example gallery -- OUT_DIR`.
//! The pictures in the crate README were made this way. It also writes a sample ablation
//! directory, `OUT_DIR/ablation/`, to try `hico plot OUT_DIR/ablation` on.

use std::path::PathBuf;

use hico_viz::{NiahCell, TokenPoint, demo};

fn main() -> Result<(), hico_viz::VizError> {
    let out = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "gallery".into()));
    // 64 clips × 4 frames = 256 frames at 1 fps, 4 tokens per frame, needle at frame 170.
    let prov = demo::provenance(64, 4, 4, 1.0);
    let n_layers = 24;
    let schedules: [(&str, &[(usize, f64)]); 3] = [
        ("none", &[]),
        (
            "uniform (drop 25% after layers 6, 12, 18)",
            &[(6, 0.75), (12, 0.5), (18, 0.25)],
        ),
        ("text-guided (keep 30% after layer 12)", &[(12, 0.3)]),
    ];
    let traces: Vec<(String, _)> = schedules
        .iter()
        .map(|(n, s)| (n.to_string(), demo::trace(&prov, n_layers, s, 170, 7)))
        .collect();
    let mut files = hico_viz::retention_lines(
        &traces,
        "Visual tokens kept per layer",
        &out.join("retention"),
    )?;
    files.extend(hico_viz::drop_pattern(
        &traces[1].1,
        &prov,
        "Frames' visual tokens kept per layer (uniform schedule)",
        &out.join("drop_pattern"),
    )?);
    let layers: Vec<usize> = (1..=n_layers).step_by(2).collect();
    let cap = demo::attention(&layers, 256, 1.0, 170);
    files.extend(hico_viz::attention_heatmap(
        &cap,
        "Query attention over video time",
        &out.join("attention"),
    )?);
    let long = demo::attention(&layers, 10_000, 2.0, 7_000);
    files.extend(hico_viz::attention_heatmap(
        &long,
        "Query attention, 10,000 frames",
        &out.join("attention_long"),
    )?);
    let cells: Vec<NiahCell> = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
        .iter()
        .flat_map(|&depth| {
            [16, 64, 256, 1024, 4096, 10_000].map(move |frames| NiahCell {
                depth,
                frames,
                accuracy: (1.0
                    - (frames as f64).log10() / 5.0 * (0.4 + 0.6 * (depth - 0.5_f64).abs()))
                .clamp(0.0, 1.0),
            })
        })
        .collect();
    files.extend(hico_viz::niah_heatmap(
        &cells,
        "Needle in a haystack: accuracy",
        &out.join("niah"),
    )?);
    let points: Vec<TokenPoint> = [("tome", 0.9), ("avg_pool", 0.75), ("uniform_drop", 0.6)]
        .iter()
        .flat_map(|&(s, top)| {
            [4.0, 16.0, 64.0].map(move |t: f64| TokenPoint {
                series: s.into(),
                tokens_per_frame: t,
                accuracy: top - 0.35 / t.sqrt(),
                interval: Some((
                    top - 0.35 / t.sqrt() - 0.05,
                    (top - 0.35 / t.sqrt() + 0.05).min(1.0),
                )),
            })
        })
        .collect();
    files.extend(hico_viz::accuracy_vs_tokens(
        &points,
        "Accuracy vs visual tokens per frame",
        &out.join("accuracy_vs_tokens"),
    )?);
    files.extend(write_ablation(&out.join("ablation"), &prov, &schedules)?);
    for f in files {
        println!("{}", f.display());
    }
    Ok(())
}

/// A sample ablation dir: `results.csv` over 2 compressors × the given schedules, and
/// `cells/<cell>/{retention,provenance,attention}.json`. Returns the files written.
fn write_ablation(
    dir: &std::path::Path,
    prov: &hico_viz::demo::Provenance,
    schedules: &[(&str, &[(usize, f64)])],
) -> Result<Vec<PathBuf>, hico_viz::VizError> {
    let io = |path: &std::path::Path| {
        let path = path.to_path_buf();
        move |source| hico_viz::VizError::Io { path, source }
    };
    let mut csv = String::from("cell,compressor,tokens_per_frame,dropout,accuracy,visual_tokens\n");
    let mut files = Vec::new();
    for (c, comp) in ["tome", "avg_pool"].iter().enumerate() {
        for (d, (name, sched)) in schedules.iter().enumerate() {
            let cell = format!("{comp}-{d}");
            let cdir = dir.join("cells").join(&cell);
            std::fs::create_dir_all(&cdir).map_err(io(&cdir))?;
            let trace = demo::trace(prov, 24, sched, 170, 3 + c as u64);
            let cap = demo::attention(&[4, 8, 12, 16, 20, 24], prov.n_frames(), 1.0, 170);
            for (f, json) in [
                ("retention.json", serde_json::to_string(&trace)),
                ("provenance.json", serde_json::to_string(prov)),
                ("attention.json", serde_json::to_string(&cap)),
            ] {
                let path = cdir.join(f);
                std::fs::write(&path, json.expect("serialisable")).map_err(io(&path))?;
                files.push(path);
            }
            let acc = 0.8 - 0.15 * c as f64 - 0.05 * d as f64;
            let name = name.replace('"', "'");
            csv += &format!("{cell},{comp},4,\"{name}\",{acc},{}\n", prov.tokens.len());
        }
    }
    let path = dir.join("results.csv");
    std::fs::write(&path, csv).map_err(io(&path))?;
    files.push(path);
    Ok(files)
}
