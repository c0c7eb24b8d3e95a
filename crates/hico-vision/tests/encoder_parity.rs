//! Encoder parity: a tiny UMT encoder loaded with `UmtEncoder::load` from weights saved
//! under the reference key names must reproduce the PyTorch re-implementation's output
//! (`scripts/make_vision_fixtures.py`, itself checked against `umt/vit.py`) within 1e-4,
//! at the native position grid and with bicubic interpolation (3 × 4 patches from 2 × 2).

mod common;

use burn::tensor::{Tensor, TensorData};
use common::{Fixture, fixture, max_diff};
use hico_backend::{Cpu, cpu_device};
use hico_core::VisionEncoder;
use hico_core::config::VisionConfig;
use hico_vision::{UmtEncoder, VisionError};
use hico_weights::WeightError;

fn cfg() -> VisionConfig {
    VisionConfig {
        width: 32,
        depth: 3,
        heads: 2,
        mlp_ratio: 4.0,
        patch_size: 16,
        output_blocks: 2,
        ln_eps: 1e-6,
        pos_grid: 2,
        checkpoint: None,
    }
}

#[test]
fn encoder_matches_pytorch() {
    let enc = UmtEncoder::<Cpu>::load(
        &cfg(),
        &fixture("encoder_weights.safetensors"),
        &cpu_device(),
    )
    .expect("load");
    assert_eq!(enc.blocks.len(), 2);
    let io = Fixture::open("encoder_io.safetensors");
    for name in ["native", "interp"] {
        let (shape, input) = io.f32(&format!("{name}.input"));
        let (want_shape, want) = io.f32(&format!("{name}.output"));
        let dims: [usize; 5] = shape.try_into().unwrap();
        let x = Tensor::<Cpu, 5>::from_data(TensorData::new(input, dims), &cpu_device());
        let y = enc.encode(x);
        assert_eq!(y.dims().to_vec(), want_shape, "{name}");
        let got = y.into_data().into_vec::<f32>().unwrap();
        let diff = max_diff(&got, &want);
        assert!(diff < 1e-4, "{name}: max |diff| {diff}");
    }
}

/// The tensors of a `WeightError::Tensors`, or a panic naming the error.
fn tensors(err: VisionError) -> (Vec<String>, Vec<String>, Vec<String>) {
    match err {
        VisionError::Weights(WeightError::Tensors {
            missing,
            unexpected,
            mismatched,
            ..
        }) => (
            missing,
            unexpected,
            mismatched.into_iter().map(|m| m.key).collect(),
        ),
        other => panic!("expected a tensor list, got {other}"),
    }
}

#[test]
fn load_errors_list_every_tensor() {
    let path = fixture("encoder_weights.safetensors");
    let mut wide = cfg();
    wide.width = 64;
    wide.heads = 4;
    let err = UmtEncoder::<Cpu>::load(&wide, &path, &cpu_device()).unwrap_err();
    assert!(
        err.to_string().contains("encoder_weights.safetensors"),
        "{err}"
    );
    let (missing, unexpected, mismatched) = tensors(err);
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "{missing:?} {unexpected:?}"
    );
    // Every tensor of the two running blocks, the patch embedding and the final norm.
    assert_eq!(mismatched.len(), 2 + 2 * 13 + 2, "{mismatched:?}");
    assert!(mismatched.contains(&"encoder.patch_embed.proj.weight".to_string()));
    assert!(mismatched.contains(&"encoder.blocks.1.mlp.fc2.bias".to_string()));

    let mut deep = cfg();
    deep.depth = 5;
    deep.output_blocks = 4;
    let (missing, unexpected, mismatched) =
        tensors(UmtEncoder::<Cpu>::load(&deep, &path, &cpu_device()).unwrap_err());
    assert_eq!(missing.len(), 13, "{missing:?}");
    assert!(missing.contains(&"encoder.blocks.3.norm1.weight".to_string()));
    assert!(unexpected.is_empty() && mismatched.is_empty());

    let mut shallow = cfg();
    shallow.depth = 2;
    let (missing, unexpected, _) =
        tensors(UmtEncoder::<Cpu>::load(&shallow, &path, &cpu_device()).unwrap_err());
    assert!(missing.is_empty(), "{missing:?}");
    assert!(!unexpected.is_empty(), "block 2 must be reported");
    assert!(
        unexpected
            .iter()
            .all(|k| k.starts_with("encoder.blocks.2.")),
        "{unexpected:?}"
    );
}
