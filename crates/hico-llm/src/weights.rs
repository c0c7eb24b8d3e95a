//! Loading and saving Hugging Face model directories: `config.json` plus `model.safetensors`
//! or a sharded `model.safetensors.index.json`; bf16, f16 and f32 tensors (computed in f32).
//! Every missing, unexpected or mis-shaped tensor is reported by name in one error.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, TensorData, backend::Backend};
use safetensors::{Dtype, SafeTensors};

use crate::error::ShapeMismatch;
use crate::{LlmError, Qwen2, Qwen2Config};

/// One tensor read from disk, as f32.
struct Loaded {
    shape: Vec<usize>,
    data: Vec<f32>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> LlmError + '_ {
    move |source| LlmError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The safetensors files of a model directory.
fn shard_files(dir: &Path) -> Result<Vec<PathBuf>, LlmError> {
    let single = dir.join("model.safetensors");
    if single.exists() {
        return Ok(vec![single]);
    }
    let index = dir.join("model.safetensors.index.json");
    let text = std::fs::read_to_string(&index).map_err(io(&index))?;
    let bad = |message: String| LlmError::Config {
        path: index.clone(),
        message,
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("no `weight_map` object".into()))?;
    let files: std::collections::BTreeSet<&str> = map.values().filter_map(|f| f.as_str()).collect();
    Ok(files.into_iter().map(|f| dir.join(f)).collect())
}

/// Read every tensor of `files` as f32.
fn read_tensors(files: &[PathBuf]) -> Result<BTreeMap<String, Loaded>, LlmError> {
    let mut out = BTreeMap::new();
    for path in files {
        let bytes = std::fs::read(path).map_err(io(path))?;
        let st = SafeTensors::deserialize(&bytes).map_err(|e| LlmError::Safetensors {
            path: path.clone(),
            message: e.to_string(),
        })?;
        for (name, view) in st.tensors() {
            let raw = view.data();
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => raw
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::BF16 => raw
                    .chunks_exact(2)
                    .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                Dtype::F16 => raw
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                other => {
                    return Err(LlmError::Dtype {
                        path: path.clone(),
                        name,
                        dtype: format!("{other:?}"),
                    });
                }
            };
            out.insert(
                name,
                Loaded {
                    shape: view.shape().to_vec(),
                    data,
                },
            );
        }
    }
    Ok(out)
}

impl<B: Backend> Qwen2<B> {
    /// Load `dir/config.json` and its safetensors weights.
    pub fn load_hf(dir: &Path, device: &B::Device) -> Result<Self, LlmError> {
        let cfg = Qwen2Config::from_file(&dir.join("config.json"))?;
        let mut tensors = read_tensors(&shard_files(dir)?)?;
        let (mut missing, mut mismatched, mut used) = (Vec::new(), Vec::new(), HashSet::new());
        let mut src = |name: &str, shape: &[usize]| -> Tensor<B, 1> {
            let n: usize = shape.iter().product();
            used.insert(name.to_string());
            match tensors.remove(name) {
                Some(t) if t.shape == shape => {
                    Tensor::from_data(TensorData::new(t.data, [n]), device)
                }
                Some(t) => {
                    mismatched.push(ShapeMismatch {
                        name: name.into(),
                        expected: shape.to_vec(),
                        found: t.shape,
                    });
                    Tensor::zeros([n], device)
                }
                None => {
                    missing.push(name.to_string());
                    Tensor::zeros([n], device)
                }
            }
        };
        let model = Self::build(&cfg, &mut src);
        // A tied checkpoint may still carry a copy of the head.
        if cfg.tie_word_embeddings {
            tensors.remove("lm_head.weight");
        }
        let unexpected: Vec<String> = tensors.into_keys().collect();
        if missing.is_empty() && unexpected.is_empty() && mismatched.is_empty() {
            Ok(model)
        } else {
            Err(LlmError::Tensors {
                dir: dir.to_owned(),
                missing,
                unexpected,
                mismatched,
            })
        }
    }

    /// Write `dir/config.json` and `dir/model.safetensors` (f32) in the HF layout, loadable
    /// by `transformers`' `Qwen2ForCausalLM.from_pretrained`.
    pub fn save_hf(&self, dir: &Path) -> Result<(), LlmError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut cfg = self.config.clone();
        cfg.extra.remove("torch_dtype");
        cfg.extra.insert("dtype".into(), "float32".into());
        let cfg_path = dir.join("config.json");
        let text = serde_json::to_string_pretty(&cfg).expect("config serialises");
        std::fs::write(&cfg_path, text).map_err(io(&cfg_path))?;
        let mut named: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        self.visit(&mut |name, t| {
            let shape = if name.ends_with("norm.weight") || name.ends_with(".bias") {
                vec![t.dims()[1]]
            } else {
                t.dims().to_vec()
            };
            let data = t.into_data().convert::<f32>();
            let bytes = data
                .as_slice::<f32>()
                .expect("f32")
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect();
            named.push((name, shape, bytes));
        });
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = named
            .iter()
            .map(|(n, s, b)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(Dtype::F32, s.clone(), b).expect("view"),
                )
            })
            .collect();
        let mut meta = std::collections::HashMap::new();
        meta.insert("format".to_string(), "pt".to_string());
        let path = dir.join("model.safetensors");
        safetensors::serialize_to_file(views, &Some(meta), &path).map_err(|e| {
            LlmError::Safetensors {
                path: path.clone(),
                message: e.to_string(),
            }
        })
    }
}
