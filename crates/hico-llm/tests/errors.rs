//! Bad checkpoints give named errors: missing tensor, wrong shape, wrong dtype, bad
//! config.json; plus a long prefill of a tiny config (blocked attention, no L×L buffer).

mod common;

use std::path::Path;

use common::fixture;
use hico_core::backend::Cpu;
use hico_llm::{LlmError, Qwen2, Qwen2Config};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};

/// Copy the `tied` fixture to `dir`, editing its tensors with `edit`.
fn edited(dir: &Path, edit: impl Fn(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>)) {
    let src = fixture("tied");
    std::fs::copy(src.join("config.json"), dir.join("config.json")).unwrap();
    let bytes = std::fs::read(src.join("model.safetensors")).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut ts: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut ts);
    let views: Vec<_> = ts
        .iter()
        .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
        .collect();
    safetensors::serialize_to_file(views, &None, &dir.join("model.safetensors")).unwrap();
}

fn load(dir: &Path) -> LlmError {
    Qwen2::<Cpu>::load_hf(dir, &Default::default()).unwrap_err()
}

#[test]
fn missing_and_unexpected_tensors_are_named() {
    let dir = tempfile::tempdir().unwrap();
    edited(dir.path(), |ts| {
        ts.retain(|t| t.0 != "model.layers.2.mlp.up_proj.weight");
        ts.push(("extra.weight".into(), Dtype::F32, vec![1], vec![0; 4]));
    });
    let msg = load(dir.path()).to_string();
    assert!(
        msg.contains("missing [model.layers.2.mlp.up_proj.weight]"),
        "{msg}"
    );
    assert!(msg.contains("unexpected [extra.weight]"), "{msg}");
}

#[test]
fn wrong_shape_names_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    edited(dir.path(), |ts| {
        let t = ts.iter_mut().find(|t| t.0 == "model.norm.weight").unwrap();
        t.2 = vec![16];
        t.3.truncate(64);
    });
    let msg = load(dir.path()).to_string();
    assert!(
        msg.contains("model.norm.weight (expected [32], found [16])"),
        "{msg}"
    );
}

#[test]
fn unsupported_dtype_is_named() {
    let dir = tempfile::tempdir().unwrap();
    edited(dir.path(), |ts| {
        let t = ts.iter_mut().find(|t| t.0 == "model.norm.weight").unwrap();
        t.1 = Dtype::I32;
    });
    let msg = load(dir.path()).to_string();
    assert!(
        msg.contains("model.norm.weight has unsupported dtype I32"),
        "{msg}"
    );
}

#[test]
fn bad_config_names_the_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    edited(dir.path(), |_| {});
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("\"hidden_size\": 32,", "");
    std::fs::write(&cfg, text).unwrap();
    let msg = load(dir.path()).to_string();
    assert!(
        msg.contains("config.json") && msg.contains("hidden_size"),
        "{msg}"
    );
    std::fs::write(&cfg, "{not json").unwrap();
    assert!(matches!(load(dir.path()), LlmError::Config { .. }));
}

/// Attention runs in `BLOCK × BLOCK` tiles with an online softmax, so the scratch memory of a
/// prefill is `heads × BLOCK²` scores whatever L is (here 4·256² floats = 1 MiB instead of
/// the 4·L² = 144 MiB an L×L matrix would take at L = 3000; 32k tokens would need 16 GiB).
#[test]
fn long_prefill_of_a_tiny_config_runs() {
    let cfg = Qwen2Config::tiny(64, 16, 32, 1, 4, 2, 1e4, 1e-6, true);
    let m = Qwen2::<Cpu>::new(&cfg, &Default::default());
    let ids: Vec<u32> = (0..3000).map(|i| (i * 7 % 64) as u32).collect();
    let logits = m.forward_ids(&ids);
    assert_eq!(logits.dims(), [1, 3000, 64]);
    let v: Vec<f32> = logits.into_data().to_vec().unwrap();
    assert!(v.iter().all(|x| x.is_finite()));
}
