//! Shared helpers of the training tests: the tiny synthetic dataset (made once per test
//! binary), the tiny stage config pointed at it, and parameter snapshots.

#![allow(dead_code)]

use hico_backend::HicoBackend;
use std::{
    path::{Path, PathBuf},
    sync::OnceLock,
};

use burn::{
    module::{Module, ModuleVisitor, Param},
    tensor::Tensor,
};
use hico_core::config::PipelineConfig;
use hico_train::{StageConfig, synth_data::write_colour_split};

/// Serialises model building and training inside one test binary: burn's CPU RNG is
/// global, so concurrent `Pipeline::new` calls would interleave their random draws.
pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Repository root (tests run in the crate folder).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The dataset folder: `train.json` (48 videos) and `test.json` (24 held-out videos).
pub fn dataset() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        write_colour_split(dir.path(), "train", 48, 32, 30, 1).unwrap();
        write_colour_split(dir.path(), "test", 24, 32, 30, 2).unwrap();
        dir
    })
    .path()
}

/// The tiny pipeline config.
pub fn pipeline() -> PipelineConfig {
    hico_model::load_config(&repo().join("configs/train/tiny_synth_pipeline.toml")).unwrap()
}

/// `configs/train/tiny_synth.toml` pointed at the test dataset, quiet.
pub fn stage() -> StageConfig {
    stage_on(dataset())
}

/// `configs/train/tiny_synth.toml` pointed at a dataset folder, quiet.
pub fn stage_on(data: &Path) -> StageConfig {
    let mut s = StageConfig::load(&repo().join("configs/train/tiny_synth.toml")).unwrap();
    s.pipeline = repo().join("configs/train/tiny_synth_pipeline.toml");
    s.data.annotations = data.join("train.json");
    s.data.video_root = data.to_owned();
    s.checkpoint.progress = false;
    s
}

struct Collect(Vec<f32>);

impl<B: HicoBackend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        let data = p.val().into_data().convert::<f32>();
        self.0.extend(data.to_vec::<f32>().unwrap());
    }
}

/// Every float parameter of a module, flattened in visit order.
pub fn params<B: HicoBackend, M: Module<B>>(m: &M) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    m.visit(&mut c);
    c.0
}

/// Whether two parameter snapshots are bit-identical; on failure, the first difference.
pub fn diff(a: &[f32], b: &[f32]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("lengths {} vs {}", a.len(), b.len()));
    }
    a.iter()
        .zip(b)
        .position(|(x, y)| x.to_bits() != y.to_bits())
        .map(|i| {
            format!(
                "first difference at {i} of {}: {} vs {}",
                a.len(),
                a[i],
                b[i]
            )
        })
}
