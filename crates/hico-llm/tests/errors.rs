//! Bad checkpoints give named errors: missing tensor, wrong shape, wrong dtype, bad
//! config.json, unsupported family or rotary scaling; plus a long prefill of a tiny config
//! (blocked attention, no L×L buffer).

mod common;

use std::path::Path;

use common::fixture;
use hico_backend::Cpu;
use hico_llm::{CausalLm, LlmError, LlmSpec, supported_model_types};
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
    CausalLm::<Cpu>::load_hf(dir, &Default::default()).unwrap_err()
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
        msg.contains("missing (1):\n    model.layers.2.mlp.up_proj.weight"),
        "{msg}"
    );
    assert!(msg.contains("unexpected (1):\n    extra.weight"), "{msg}");
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
        msg.contains("model.norm.weight: expected [32], found [16]"),
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
        msg.contains("model.norm.weight") && msg.contains("I32"),
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

#[test]
fn unsupported_family_and_rope_type_are_named() {
    let dir = tempfile::tempdir().unwrap();
    edited(dir.path(), |_| {});
    let cfg = dir.path().join("config.json");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("\"qwen2\"", "\"gpt_neox\"")).unwrap();
    let msg = load(dir.path()).to_string();
    assert!(
        msg.contains("model_type `gpt_neox` is not supported") && msg.contains("llama"),
        "{msg}"
    );
    assert_eq!(supported_model_types(), ["qwen2", "llama", "qwen3"]);
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["rope_parameters"]["rope_type"] = "yarn".into();
    std::fs::write(&cfg, v.to_string()).unwrap();
    let msg = load(dir.path()).to_string();
    assert!(
        msg.contains("rope_parameters.rope_type `yarn` is not supported"),
        "{msg}"
    );
    // The older form (transformers 4 configs on the Hub): `rope_scaling` with `type`.
    v.as_object_mut().unwrap().remove("rope_parameters");
    v["rope_scaling"] = serde_json::json!({"type": "dynamic", "factor": 4.0});
    std::fs::write(&cfg, v.to_string()).unwrap();
    let msg = load(dir.path()).to_string();
    assert!(
        msg.contains("rope_scaling.rope_type `dynamic` is not supported"),
        "{msg}"
    );
    let err = LlmSpec::tiny("mamba", 64, 16, 32, 1, 4, 2).unwrap_err();
    assert!(err.to_string().contains("family `mamba`"), "{err}");
}

/// Attention runs in `BLOCK × BLOCK` tiles with an online softmax, so the scratch memory of a
/// prefill is `heads × BLOCK²` scores whatever L is (here 4·256² floats = 1 MiB instead of
/// the 4·L² = 144 MiB an L×L matrix would take at L = 3000; 32k tokens would need 16 GiB).
#[test]
fn long_prefill_of_a_tiny_config_runs() {
    for family in supported_model_types() {
        let spec = LlmSpec::tiny(family, 64, 16, 32, 1, 4, 2).unwrap();
        let m = CausalLm::<Cpu>::random(&spec, &Default::default());
        let ids: Vec<u32> = (0..3000).map(|i| (i * 7 % 64) as u32).collect();
        let logits = m.forward_ids(&ids);
        assert_eq!(logits.dims(), [1, 3000, 64]);
        let v: Vec<f32> = logits.into_data().to_vec().unwrap();
        assert!(v.iter().all(|x| x.is_finite()), "{family}");
    }
}
