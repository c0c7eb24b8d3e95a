//! Every plot writes non-empty PNG and SVG files from synthetic data; `plot_run_dir` writes
//! the expected set for single-run and ablation directories and names bad files.

use std::path::{Path, PathBuf};

use hico_viz::{NiahCell, TokenPoint, VizError, demo};

/// Assert `files` are exactly `stem.png` and `stem.svg`, both non-empty, the PNG a PNG.
fn assert_pair(files: &[PathBuf], stem: &Path) {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    assert_eq!(
        names,
        [
            format!("{}.png", stem.display()),
            format!("{}.svg", stem.display())
        ]
    );
    let png = std::fs::read(&files[0]).unwrap();
    assert!(
        png.len() > 1000 && png.starts_with(b"\x89PNG"),
        "bad PNG {}",
        names[0]
    );
    let svg = std::fs::read_to_string(&files[1]).unwrap();
    assert!(
        svg.contains("<svg") && svg.contains("<text"),
        "bad SVG {}",
        names[1]
    );
}

#[test]
fn each_plot_writes_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    let prov = demo::provenance(4, 4, 4, 2.0);
    let t1 = demo::trace(&prov, 8, &[(2, 0.5), (5, 0.25)], 9, 1);
    let t0 = demo::trace(&prov, 8, &[], 9, 1);
    let stem = dir.path().join("nested/retention");
    assert_pair(
        &hico_viz::retention_lines(
            &[("none".into(), t0), ("half".into(), t1.clone())],
            "R",
            &stem,
        )
        .unwrap(),
        &stem,
    );
    let stem = dir.path().join("drop");
    assert_pair(
        &hico_viz::drop_pattern(&t1, &prov, "D", &stem).unwrap(),
        &stem,
    );
    let stem = dir.path().join("att");
    let cap = demo::attention(&[1, 4, 8], 16, 2.0, 9);
    assert_pair(
        &hico_viz::attention_heatmap(&cap, "A", &stem).unwrap(),
        &stem,
    );
    let stem = dir.path().join("niah");
    let cells = [
        NiahCell {
            depth: 0.0,
            frames: 16,
            accuracy: 1.0,
        },
        NiahCell {
            depth: 1.0,
            frames: 64,
            accuracy: 0.25,
        },
    ];
    assert_pair(&hico_viz::niah_heatmap(&cells, "N", &stem).unwrap(), &stem);
    let stem = dir.path().join("acc");
    let pts = [
        TokenPoint {
            series: "tome".into(),
            tokens_per_frame: 16.0,
            accuracy: 0.5,
            interval: Some((0.4, 0.6)),
        },
        TokenPoint {
            series: "pool".into(),
            tokens_per_frame: 4.0,
            accuracy: 0.25,
            interval: None,
        },
    ];
    assert_pair(
        &hico_viz::accuracy_vs_tokens(&pts, "T", &stem).unwrap(),
        &stem,
    );
}

#[test]
fn ten_thousand_frame_attention_renders() {
    let dir = tempfile::tempdir().unwrap();
    let stem = dir.path().join("long");
    let cap = demo::attention(&[1, 2], 10_000, 2.0, 7_000);
    assert_pair(
        &hico_viz::attention_heatmap(&cap, "long", &stem).unwrap(),
        &stem,
    );
    // Binned: at most MAX_COLUMNS rectangles per row (+ colour bar) in the SVG.
    let svg = std::fs::read_to_string(stem.with_extension("svg")).unwrap();
    assert!(svg.matches("<rect").count() < 2 * hico_viz::MAX_COLUMNS + 200);
}

/// A single-run directory with the three JSON files.
fn write_single_run(dir: &Path) {
    let prov = demo::provenance(3, 4, 2, 1.0);
    let trace = demo::trace(&prov, 6, &[(3, 0.4)], 5, 2);
    let cap = demo::attention(&[2, 6], 12, 1.0, 5);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(
        dir.join("retention.json"),
        serde_json::to_string(&trace).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("provenance.json"),
        serde_json::to_string(&prov).unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("attention.json"),
        serde_json::to_string(&cap).unwrap(),
    )
    .unwrap();
}

/// File names (relative to `root`) of `files`, sorted.
fn rel(files: &[PathBuf], root: &Path) -> Vec<String> {
    let mut v: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(root).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn single_run_dir_plots_expected_set() {
    let dir = tempfile::tempdir().unwrap();
    write_single_run(dir.path());
    let files = hico_viz::plot_run_dir(dir.path()).unwrap();
    let expect: Vec<String> = ["attention", "drop_pattern", "retention"]
        .iter()
        .flat_map(|s| [format!("plots/{s}.png"), format!("plots/{s}.svg")])
        .collect();
    assert_eq!(rel(&files, dir.path()), expect);
    assert!(files.iter().all(|f| f.metadata().unwrap().len() > 0));
}

#[test]
fn ablation_dir_plots_expected_set() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("results.csv"),
        "cell,compressor,tokens_per_frame,dropout,accuracy,visual_tokens,extra\n\
         a,tome,16,none,0.5,192,x\n\
         b,tome,16,uniform,0.75,192,x\n\
         c,pool,4,none,,48,failed\n\
         d,none,,none,0.25,64,no_budget\n",
    )
    .unwrap();
    write_single_run(&root.join("cells/a"));
    write_single_run(&root.join("cells/b"));
    std::fs::write(
        root.join("niah.csv"),
        "depth,frames,accuracy\n0,16,1\n0.5,16,0.5\n",
    )
    .unwrap();
    let files = hico_viz::plot_run_dir(root).unwrap();
    let mut expect: Vec<String> = ["accuracy_vs_tokens", "niah", "retention_tome"]
        .iter()
        .map(|s| format!("plots/{s}"))
        .chain(["a", "b"].iter().flat_map(|c| {
            ["attention", "drop_pattern", "retention"].map(|s| format!("plots/cells/{c}/{s}"))
        }))
        .flat_map(|s| [format!("{s}.png"), format!("{s}.svg")])
        .collect();
    expect.sort();
    assert_eq!(rel(&files, root), expect);
}

#[test]
fn bad_or_missing_json_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_single_run(dir.path());
    std::fs::write(dir.path().join("attention.json"), "{not json").unwrap();
    let e = hico_viz::plot_run_dir(dir.path()).unwrap_err();
    assert!(matches!(e, VizError::Json { .. }), "{e}");
    assert!(e.to_string().contains("attention.json"), "{e}");
    std::fs::remove_file(dir.path().join("attention.json")).unwrap();
    std::fs::remove_file(dir.path().join("provenance.json")).unwrap();
    let e = hico_viz::plot_run_dir(dir.path()).unwrap_err();
    assert!(e.to_string().contains("provenance.json"), "{e}");
    let empty = tempfile::tempdir().unwrap();
    let e = hico_viz::plot_run_dir(empty.path()).unwrap_err();
    assert!(matches!(e, VizError::NothingToPlot { .. }), "{e}");
}

#[test]
fn results_csv_missing_column_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("results.csv"), "cell,compressor\na,tome\n").unwrap();
    let e = hico_viz::plot_run_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("results.csv") && e.contains("tokens_per_frame"),
        "{e}"
    );
}

/// Writes edge-case pictures to `$HICO_VIZ_LOOK` for looking at (no-op when unset).
#[test]
fn edge_cases_render() {
    let Some(out) = std::env::var_os("HICO_VIZ_LOOK").map(PathBuf::from) else {
        let dir = tempfile::tempdir().unwrap();
        return edge_cases(dir.path());
    };
    edge_cases(&out);
}

fn edge_cases(out: &Path) {
    let one = [NiahCell {
        depth: 0.5,
        frames: 32,
        accuracy: 0.5,
    }];
    hico_viz::niah_heatmap(&one, "one cell", &out.join("niah_one")).unwrap();
    let prov = demo::provenance(1, 2, 1, 1.0);
    let t = demo::trace(&prov, 1, &[], 0, 0);
    hico_viz::drop_pattern(&t, &prov, "one layer, two frames", &out.join("drop_tiny")).unwrap();
    let cap = demo::attention(&[5], 1, 1.0, 0);
    hico_viz::attention_heatmap(&cap, "one layer, one frame", &out.join("att_tiny")).unwrap();
    let pts = [TokenPoint {
        series: "only".into(),
        tokens_per_frame: 8.0,
        accuracy: 1.0,
        interval: Some((0.9, 1.0)),
    }];
    hico_viz::accuracy_vs_tokens(&pts, "single point", &out.join("acc_one")).unwrap();
}

#[test]
fn empty_tokens_per_frame_falls_back_to_visual_tokens_over_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("results.csv");
    std::fs::write(
        &path,
        "cell,compressor,tokens_per_frame,dropout,accuracy,visual_tokens,frames\n\
         a,none,,none,0.5,256.0,16.0\n",
    )
    .unwrap();
    let rows = hico_viz::read_results_csv(&path).unwrap();
    assert_eq!(rows[0].tokens_per_frame, Some(16.0));
}

#[test]
fn patch_overlay_and_loss_curve_write_png_and_svg() {
    let dir = tempfile::tempdir().unwrap();
    // 2 clips of 2 frames, 4×4 patches merged 4 to a token; a drop after layer 1.
    let prov = demo::provenance(2, 2, 4, 1.0);
    let t = demo::trace(&prov, 4, &[(1, 0.25)], 1, 3);
    let frames = hico_viz::Frames {
        side: 16,
        rgb: (0..4).map(|k| vec![40 * k as u8; 16 * 16 * 3]).collect(),
    };
    let stem = dir.path().join("overlay");
    let files = hico_viz::patch_overlay(&frames, &prov, &t, &[1], "O", &stem).unwrap();
    assert_pair(&files, &stem);
    // Wrong frame count or size: a clear error naming the plot.
    let short = hico_viz::Frames {
        side: 16,
        rgb: frames.rgb[..3].to_vec(),
    };
    let err = hico_viz::patch_overlay(&short, &prov, &t, &[], "O", &stem).unwrap_err();
    assert!(err.to_string().contains("3 frame images for 4"), "{err}");
    let stem = dir.path().join("loss");
    let steps: Vec<(usize, f64)> = (1..=50).map(|s| (s, 2.0 / s as f64)).collect();
    assert_pair(&hico_viz::loss_curve(&steps, 5, "L", &stem).unwrap(), &stem);
    assert!(hico_viz::loss_curve(&[], 5, "L", &stem).is_err());
}
