//! A grid over the `[video_compressor]` slot: the compression zoo's methods are cells like any
//! other (`"video_compressor" = [...]` in `[grid]`), scored on the same questions, and the
//! tokens the LLM saw follow each method's budget.

use std::path::{Path, PathBuf};

use burn::backend::Flex;
use hico_core::config::PipelineConfig;
use hico_eval::ablate::{Experiment, prepare_benchmark, run_grid};
use hico_model::Pipeline;
use indicatif::MultiProgress;

fn tiny_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tiny.toml")
}

#[test]
fn video_compressors_are_grid_cells() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let exp_path = dir.path().join("zoo.toml");
    let text = format!(
        "name = \"zoo\"\nbase = {:?}\nout = {:?}\n\
         [overrides]\n\"compressor\" = {{ kind = \"identity\" }}\n\"dropout\" = {{ kind = \"none\" }}\n\
         [benchmark]\nkind = \"niah\"\nframes = [16]\ndepths = [0.0, 1.0]\nsize = 64\n\
         [grid]\n\"video_compressor\" = [{{ kind = \"none\" }}, \
         {{ kind = \"random\", retention_ratio = 0.25 }}, {{ kind = \"downsample\", tokens_per_frame = 4 }}]\n",
        tiny_config(),
        out
    );
    std::fs::write(&exp_path, &text).unwrap();
    let exp = Experiment::load(&exp_path).unwrap();
    let cells = exp.cells(&exp_path).unwrap();
    let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["none", "random-0.25", "downsample-4"]);
    assert_eq!(cells[2].config.video_compressor.kind(), "downsample");

    let multi = MultiProgress::new();
    let (bench, m) = prepare_benchmark(&exp, &exp_path, &out, &multi).unwrap();
    let build = |cfg: &PipelineConfig| {
        Pipeline::<Flex>::new(cfg.clone(), &Default::default()).map_err(|e| e.to_string())
    };
    let grid = run_grid(&exp, &exp_path, &bench, &m, "random", build, &multi).unwrap();
    assert!(grid.failed.is_empty(), "{grid:?}");
    let tokens: Vec<f64> = grid.rows.iter().map(|r| r.visual_tokens).collect();
    // 16 frames of 4 × 4 patches: 256 tokens; a quarter of them; 4 per frame.
    assert_eq!(tokens, vec![256.0, 64.0, 64.0], "{grid:?}");
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert!(
        csv.lines()
            .next()
            .unwrap()
            .contains("grid.video_compressor"),
        "{csv}"
    );
}
