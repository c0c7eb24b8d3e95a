//! Binary formats: safetensors weights (the LLM's HF directory through
//! `hico_llm::CausalLm::load_hf`, the vision encoder through `hico_vision::UmtEncoder::load`),
//! byte mutations and lying headers (header length, shapes, offsets, dtypes); and
//! checkpoint folders (`hico_train::checkpoint`): any damage to any file must either be
//! caught by the manifest (resuming falls back or fails by name) or leave loadable,
//! unchanged weights.

use hico_backend::HicoBackend;
use std::path::{Path, PathBuf};

use burn::{
    module::Module,
    nn::{Linear, LinearConfig},
    optim::AdamWConfig,
    tensor::backend::Backend,
};
use hico_backend::{Cpu, CpuAutodiff, cpu_device};
use hico_train::{
    checkpoint::{self, TrainState},
    rng::TrainRng,
};

use super::harness::{Rng, Target, iters, mutate};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A safetensors file with one header lie: the length field, a shape, the offsets or the
/// dtype of a random tensor (the header otherwise well-formed JSON).
fn lie(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let data = &bytes[8 + n..];
    let keys: Vec<String> = header
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .cloned()
        .collect();
    let t = &mut header[rng.pick(&keys).as_str()];
    let huge = [1u64 << 20, 1 << 32, 1 << 40, u64::MAX / 2, u64::MAX];
    match rng.below(5) {
        0 => t["shape"] = serde_json::json!([*rng.pick(&huge), *rng.pick(&huge)]),
        1 => t["shape"] = serde_json::json!([]),
        2 => t["data_offsets"] = serde_json::json!([0, *rng.pick(&huge)]),
        3 => {
            let o = t["data_offsets"].clone();
            t["data_offsets"] = serde_json::json!([o[1], o[0]]);
        }
        _ => t["dtype"] = serde_json::json!(rng.pick(&["F64", "I8", "BOOL", "X"])),
    }
    let text = serde_json::to_vec(&header).unwrap();
    let len = match rng.below(4) {
        0 => *rng.pick(&[u64::MAX, 1 << 40, text.len() as u64 + 1, 0]),
        _ => text.len() as u64,
    };
    let mut out = len.to_le_bytes().to_vec();
    out.extend(text);
    out.extend(data);
    out
}

fn safetensors_cases(
    mut t: Target,
    seed: u64,
    clean: &[u8],
    file: PathBuf,
    named: PathBuf,
    load: impl Fn() -> Result<(), String> + Clone + Send + 'static,
) {
    let mut rng = Rng::new(seed);
    for i in 0..iters() {
        let input = if i % 2 == 0 {
            lie(&mut rng, clean)
        } else {
            mutate(&mut rng, clean)
        };
        std::fs::write(&file, &input).unwrap();
        let cap = (64 << 20) + 8 * clean.len();
        t.case(i, &input, &named, cap, load.clone());
    }
    t.report();
}

#[test]
fn llm_safetensors() {
    let t = Target::new("llm_safetensors");
    let dir = tempfile::tempdir().unwrap();
    let fixture = root().join("crates/hico-llm/tests/fixtures/tied");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(fixture.join(f), dir.path().join(f)).unwrap();
    }
    let clean = std::fs::read(fixture.join("model.safetensors")).unwrap();
    let d = dir.path().to_owned();
    // Errors name the model directory (a tensor missing from it) or the file in it.
    let (file, named) = (d.join("model.safetensors"), d.clone());
    safetensors_cases(t, 11, &clean, file, named, move || {
        hico_llm::CausalLm::<Cpu>::load_hf(&d, &cpu_device())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[test]
fn vision_safetensors() {
    let t = Target::new("vision_safetensors");
    let dir = tempfile::tempdir().unwrap();
    let fixture = root().join("crates/hico-vision/tests/fixtures/encoder_weights.safetensors");
    let clean = std::fs::read(&fixture).unwrap();
    let file = dir.path().join("encoder.safetensors");
    let cfg = hico_core::config::VisionConfig {
        width: 32,
        depth: 3,
        heads: 2,
        mlp_ratio: 4.0,
        patch_size: 16,
        output_blocks: 2,
        ln_eps: 1e-6,
        pos_grid: 2,
        checkpoint: None,
    };
    let f = file.clone();
    safetensors_cases(t, 12, &clean, file.clone(), file, move || {
        hico_vision::UmtEncoder::<Cpu>::load(&cfg, &f, &cpu_device())
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
}

#[derive(Module, Debug)]
struct Two<B: Backend> {
    a: Linear<B>,
    b: Linear<B>,
}

fn two<B: HicoBackend>() -> Two<B> {
    let dev = Default::default();
    B::seed(&dev, 7);
    Two {
        a: LinearConfig::new(16, 16).init(&dev),
        b: LinearConfig::new(16, 4).init(&dev),
    }
}

fn weights(m: &Two<Cpu>) -> Vec<f32> {
    [&m.a.weight, &m.b.weight]
        .iter()
        .flat_map(|w| w.val().into_data().to_vec::<f32>().unwrap())
        .collect()
}

/// Resume from `root` as the trainer does; a checkpoint taken as valid must load and, when
/// `want` is given, hold exactly those weights.
fn resume(root: &Path, want: Option<&[f32]>) -> Result<(), String> {
    let dev = cpu_device();
    let Some(dir) = checkpoint::resume_point(root).map_err(|e| e.to_string())? else {
        return Err(format!("{}: no checkpoint found", root.display()));
    };
    let state = checkpoint::load_state(&dir).map_err(|e| e.to_string())?;
    if want.is_some() {
        assert!(state.step == 2 || state.step == 4, "step {}", state.step);
    }
    let m = checkpoint::load_weights(two::<Cpu>(), &dir, &dev).map_err(|e| e.to_string())?;
    checkpoint::load_optim::<CpuAutodiff, Two<CpuAutodiff>, _>(
        AdamWConfig::new().init::<CpuAutodiff, Two<CpuAutodiff>>(),
        &dir,
        &dev,
    )
    .map_err(|e| e.to_string())?;
    if let Some(want) = want {
        assert_eq!(
            weights(&m),
            want,
            "a damaged checkpoint was taken as valid: {}",
            dir.display()
        );
    }
    Ok(())
}

#[test]
fn checkpoint_folders() {
    let mut t = Target::new("checkpoint_folder");
    let clean = tempfile::tempdir().unwrap();
    let ck = clean.path().join("checkpoints");
    let model = two::<CpuAutodiff>();
    let optim = AdamWConfig::new().init::<CpuAutodiff, Two<CpuAutodiff>>();
    for step in [2, 4] {
        let state = TrainState {
            stage: "fuzz".into(),
            step,
            total_steps: 8,
            epoch: 0,
            position: step,
            order_seed: 1,
            rng: TrainRng::new(1),
            skipped: 0,
            last_loss: 0.5,
        };
        checkpoint::save(&ck, &state, &model, &optim, 2).unwrap();
    }
    let want = weights(
        &checkpoint::load_weights(two::<Cpu>(), &ck.join("step-0000004"), &cpu_device()).unwrap(),
    );
    let files: Vec<PathBuf> = ["step-0000004", "step-0000002"]
        .iter()
        .flat_map(|s| {
            ["model.mpk", "optim.mpk", "state.json", "manifest.json"]
                .map(|f| PathBuf::from(s).join(f))
        })
        .chain([PathBuf::from("latest")])
        .collect();
    let mut rng = Rng::new(13);
    for i in 0..iters() {
        let case = tempfile::tempdir().unwrap();
        let root = case.path().join("checkpoints");
        copy_dir(&ck, &root);
        // One or two files damaged; in one case in four the manifests are gone too (a
        // checkpoint of an older hico: then burn's decoder meets the damage).
        let mut input = Vec::new();
        let legacy = rng.below(4) == 0;
        for _ in 0..1 + rng.below(2) {
            let f = root.join(rng.pick(&files));
            let bytes = std::fs::read(&f).unwrap();
            input = mutate(&mut rng, &bytes);
            std::fs::write(&f, &input).unwrap();
        }
        if legacy {
            for s in ["step-0000004", "step-0000002"] {
                let _ = std::fs::remove_file(root.join(s).join("manifest.json"));
            }
        }
        let (r, w) = (root.clone(), want.clone());
        let cap = 64 << 20;
        // Without manifests damage can only be found by decoding: no panic, no huge
        // allocation, errors naming the file, but the weights may differ.
        t.case(i, &input, &root, cap, move || {
            resume(&r, (!legacy).then_some(w.as_slice()))
        });
    }
    t.report();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}
