//! Round trips through the key map and the checks on malformed files.

use burn::module::{Module, Param};
use burn::nn::{
    Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig, RmsNorm,
    RmsNormConfig,
};
use burn::tensor::{Distribution, Tensor, Tolerance};

use super::*;
use burn::backend::Flex as Cpu;

#[derive(Module, Debug)]
struct Toy<B: Backend> {
    emb: Embedding<B>,
    lin: Linear<B>,
    head: Linear<B>,
    rms: RmsNorm<B>,
    ln: LayerNorm<B>,
    patch: Param<Tensor<B, 2>>,
}

impl<B: Backend> Weights<B> for Toy<B> {
    fn walk<V: WeightVisitor<B>>(&mut self, prefix: &str, v: &mut V) {
        v.embedding(&format!("{prefix}embed"), &mut self.emb);
        v.linear(&format!("{prefix}layers.0.proj"), &mut self.lin);
        v.linear(&format!("{prefix}lm_head"), &mut self.head);
        v.rms_norm(&format!("{prefix}norm"), &mut self.rms);
        v.layer_norm(&format!("{prefix}ln"), &mut self.ln);
        v.param(
            &format!("{prefix}patch.weight"),
            &mut self.patch,
            Layout::FlattenTransposed(vec![5, 3, 1, 2, 2]),
        );
    }
}

/// A toy with lazily initialised parameters (nothing allocated until read).
fn lazy(dev: &burn::prelude::Device<Cpu>) -> Toy<Cpu> {
    Toy {
        emb: EmbeddingConfig::new(7, 4).init(dev),
        lin: LinearConfig::new(4, 6).init(dev),
        head: LinearConfig::new(4, 7).with_bias(false).init(dev),
        rms: RmsNormConfig::new(4).init(dev),
        ln: LayerNormConfig::new(6).init(dev),
        patch: Param::from_tensor(Tensor::zeros([12, 5], dev)),
    }
}

fn random(dev: &burn::prelude::Device<Cpu>) -> Toy<Cpu> {
    let r = |s: [usize; 2]| Tensor::<Cpu, 2>::random(s, Distribution::Normal(0.0, 1.0), dev);
    let v = |n: usize| Tensor::<Cpu, 1>::random([n], Distribution::Normal(1.0, 0.5), dev);
    let mut t = lazy(dev);
    t.emb.weight = Param::from_tensor(r([7, 4]));
    t.lin.weight = Param::from_tensor(r([4, 6]));
    t.lin.bias = Some(Param::from_tensor(v(6)));
    t.head.weight = Param::from_tensor(r([4, 7]));
    t.rms.gamma = Param::from_tensor(v(4));
    t.ln.gamma = Param::from_tensor(v(6));
    t.ln.beta = Some(Param::from_tensor(v(6)));
    t.patch = Param::from_tensor(r([12, 5]));
    t
}

fn flat(m: &Toy<Cpu>) -> Vec<f32> {
    let mut out = Vec::new();
    let mut push = |t: Tensor<Cpu, 1>| out.extend(t.into_data().to_vec::<f32>().unwrap());
    push(m.emb.weight.val().flatten(0, 1));
    push(m.lin.weight.val().flatten(0, 1));
    push(m.lin.bias.as_ref().unwrap().val());
    push(m.head.weight.val().flatten(0, 1));
    push(m.rms.gamma.val());
    push(m.ln.gamma.val());
    push(m.ln.beta.as_ref().unwrap().val());
    push(m.patch.val().flatten(0, 1));
    out
}

fn load(dir: &Path, prefix: &str) -> Result<Toy<Cpu>, WeightError> {
    let dev = Default::default();
    let files = WeightFiles::open_dir(dir)?;
    let mut m = lazy(&dev);
    let mut l = Loader::new(&files, &dev);
    m.walk(prefix, &mut l);
    l.finish(|_| false)?;
    Ok(m)
}

use std::path::Path;

#[test]
fn save_then_load_is_lossless_in_f32_single_and_sharded() {
    let dev = Default::default();
    let mut m = random(&dev);
    for shard in [None, Some(64)] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Saver::new(SaveDtype::F32);
        m.walk("model.", &mut s);
        assert!(s.keys().any(|k| k == "model.lm_head.weight"));
        s.write_dir(dir.path(), shard).unwrap();
        assert_eq!(
            dir.path().join("model.safetensors.index.json").exists(),
            shard.is_some()
        );
        let back = load(dir.path(), "model.").unwrap();
        assert_eq!(flat(&back), flat(&m));
    }
}

#[test]
fn checkpoint_layout_is_pytorch_layout() {
    let dev = Default::default();
    let mut m = random(&dev);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Saver::new(SaveDtype::F32);
    m.walk("", &mut s);
    s.write_dir(dir.path(), None).unwrap();
    let f = WeightFiles::open_dir(dir.path()).unwrap();
    assert_eq!(f.info("layers.0.proj.weight").unwrap().shape, vec![6, 4]);
    assert_eq!(f.info("patch.weight").unwrap().shape, vec![5, 3, 1, 2, 2]);
    // Row `o` of the PyTorch weight is column `o` of burn's `[in, out]` matrix.
    let w = f.read_f32("layers.0.proj.weight").unwrap();
    let burn_w: Vec<f32> = m.lin.weight.val().into_data().to_vec().unwrap();
    for o in 0..6 {
        for i in 0..4 {
            assert_eq!(w[o * 4 + i], burn_w[i * 6 + o]);
        }
    }
}

#[test]
fn bf16_round_trip_is_within_bf16_precision() {
    let dev = Default::default();
    let mut m = random(&dev);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Saver::new(SaveDtype::Bf16);
    m.walk("", &mut s);
    s.write_dir(dir.path(), None).unwrap();
    let f = WeightFiles::open_dir(dir.path()).unwrap();
    assert_eq!(
        f.info("norm.weight").unwrap().dtype,
        Some(WeightDtype::Bf16)
    );
    let back = load(dir.path(), "").unwrap();
    let (a, b) = (flat(&back), flat(&m));
    let t = Tensor::<Cpu, 1>::from_floats(a.as_slice(), &dev);
    t.into_data().assert_approx_eq::<f32>(
        &Tensor::<Cpu, 1>::from_floats(b.as_slice(), &dev).into_data(),
        Tolerance::rel_abs(1e-2, 1e-2),
    );
}

#[test]
fn every_missing_unexpected_and_misshaped_tensor_is_named_at_once() {
    let dev = Default::default();
    let mut m = random(&dev);
    let dir = tempfile::tempdir().unwrap();
    let mut s = Saver::new(SaveDtype::F32);
    m.walk("", &mut s);
    // Drop two tensors, add a stray one, and reshape one.
    s.tensors.remove("norm.weight");
    s.tensors.remove("ln.bias");
    s.tensors
        .insert("extra.weight".into(), (vec![2], vec![0; 8]));
    s.tensors
        .insert("embed.weight".into(), (vec![4, 7], vec![0; 4 * 7 * 4]));
    s.write_dir(dir.path(), None).unwrap();
    let err = load(dir.path(), "").unwrap_err();
    let WeightError::Tensors {
        missing,
        unexpected,
        mismatched,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(missing, &["norm.weight".to_string(), "ln.bias".to_string()]);
    assert_eq!(unexpected, &["extra.weight".to_string()]);
    assert_eq!(mismatched[0].key, "embed.weight");
    let msg = err.to_string();
    for k in ["norm.weight", "ln.bias", "extra.weight", "embed.weight"] {
        assert!(msg.contains(k), "{msg}");
    }
}

/// Write raw bytes as `model.safetensors` and open it.
fn open_raw(bytes: &[u8]) -> Result<WeightFiles, WeightError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("model.safetensors"), bytes).unwrap();
    WeightFiles::open_dir(dir.path())
}

fn with_header(h: &str, data: usize) -> Vec<u8> {
    let mut b = (h.len() as u64).to_le_bytes().to_vec();
    b.extend(h.as_bytes());
    b.extend(vec![0u8; data]);
    b
}

#[test]
fn malformed_files_are_refused_before_allocating_from_their_headers() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![1, 2, 3], "too short"),
        (u64::MAX.to_le_bytes().to_vec(), "does not fit"),
        ((1u64 << 40).to_le_bytes().to_vec(), "does not fit"),
        (with_header("{not json", 0), "not a JSON object"),
        (
            with_header(
                r#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#,
                4,
            ),
            "outside",
        ),
        (
            with_header(
                r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#,
                8,
            ),
            "do not hold",
        ),
        (
            with_header(
                r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296],"data_offsets":[0,8]}}"#,
                8,
            ),
            "do not hold",
        ),
        (
            with_header(
                r#"{"a":{"dtype":"F32","shape":"x","data_offsets":[0,8]}}"#,
                8,
            ),
            "shape",
        ),
    ];
    for (bytes, want) in cases {
        let err = open_raw(&bytes).unwrap_err().to_string();
        assert!(err.contains(want), "expected `{want}` in: {err}");
        assert!(err.contains("model.safetensors"), "names the file: {err}");
    }
    // An unknown dtype opens, but reading it names the tensor and the dtype.
    let f = open_raw(&with_header(
        r#"{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#,
        8,
    ))
    .unwrap();
    let err = f.read_f32("a").unwrap_err().to_string();
    assert!(err.contains("`a`") && err.contains("I64"), "{err}");
}

#[test]
fn a_shard_index_naming_a_missing_file_names_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"a": "model-00001-of-00002.safetensors"}}"#,
    )
    .unwrap();
    let err = WeightFiles::open_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("model-00001-of-00002.safetensors"), "{err}");
    std::fs::write(
        dir.path().join("model.safetensors.index.json"),
        r#"{"weight_map": {"a": "../etc/passwd"}}"#,
    )
    .unwrap();
    let err = WeightFiles::open_dir(dir.path()).unwrap_err().to_string();
    assert!(err.contains("not a plain file name"), "{err}");
}

#[test]
fn transpose_moves_every_element_across_tile_edges() {
    // Shapes smaller than, equal to and not a multiple of the tile, and empty ones.
    for (rows, cols) in [
        (1, 1),
        (1, 5),
        (5, 1),
        (32, 32),
        (33, 70),
        (70, 33),
        (0, 4),
        (4, 0),
    ] {
        let data: Vec<u32> = (0..(rows * cols) as u32).collect();
        let t = super::transpose(&data, rows, cols);
        assert_eq!(t.len(), data.len());
        for r in 0..rows {
            for c in 0..cols {
                assert_eq!(
                    t[c * rows + r],
                    data[r * cols + c],
                    "[{rows}, {cols}] at ({r}, {c})"
                );
            }
        }
    }
}
