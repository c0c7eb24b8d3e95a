//! [`Saver`]: the visitor that collects a module's parameters under their checkpoint keys
//! and writes them as safetensors (one file, or shards plus an index as Hugging Face does).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use burn::module::Param;
use burn::tensor::{Tensor, backend::Backend};
use safetensors::Dtype;

use super::{Layout, WeightError, WeightVisitor, transpose};

/// A tensor ready to write: key, checkpoint shape, bytes.
type Named = (String, Vec<usize>, Vec<u8>);

/// Element type of a written checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SaveDtype {
    /// 32-bit float (lossless for hico's f32 models).
    #[default]
    F32,
    /// bfloat16 (round to nearest even), the released models' format.
    Bf16,
}

/// Collects parameters in checkpoint layout as bytes of the chosen dtype.
#[derive(Debug, Default)]
pub struct Saver {
    dtype: SaveDtype,
    pub(super) tensors: BTreeMap<String, (Vec<usize>, Vec<u8>)>,
}

impl Saver {
    /// A saver writing `dtype`.
    pub fn new(dtype: SaveDtype) -> Self {
        Self {
            dtype,
            tensors: BTreeMap::new(),
        }
    }

    /// Keys collected so far, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Total bytes collected.
    pub fn bytes(&self) -> usize {
        self.tensors.values().map(|(_, b)| b.len()).sum()
    }

    /// Write `dir/model.safetensors`, or, when the tensors exceed `max_shard_bytes`,
    /// `dir/model-0000i-of-0000n.safetensors` shards plus `model.safetensors.index.json`.
    /// Files are written under a temporary name and renamed into place.
    pub fn write_dir(self, dir: &Path, max_shard_bytes: Option<usize>) -> Result<(), WeightError> {
        std::fs::create_dir_all(dir).map_err(|source| WeightError::Io {
            path: dir.to_owned(),
            source,
        })?;
        let dtype = match self.dtype {
            SaveDtype::F32 => Dtype::F32,
            SaveDtype::Bf16 => Dtype::BF16,
        };
        let limit = max_shard_bytes.unwrap_or(usize::MAX).max(1);
        let mut shards: Vec<Vec<Named>> = vec![Vec::new()];
        let mut size = 0;
        for (key, (shape, bytes)) in self.tensors {
            if size > 0 && size + bytes.len() > limit {
                shards.push(Vec::new());
                size = 0;
            }
            size += bytes.len();
            shards
                .last_mut()
                .expect("one shard")
                .push((key, shape, bytes));
        }
        let n = shards.len();
        let name = |i: usize| {
            if n == 1 {
                "model.safetensors".to_string()
            } else {
                format!("model-{:05}-of-{n:05}.safetensors", i + 1)
            }
        };
        let mut weight_map = BTreeMap::new();
        for (i, shard) in shards.iter().enumerate() {
            let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = shard
                .iter()
                .map(|(k, s, b)| {
                    let v = safetensors::tensor::TensorView::new(dtype, s.clone(), b)
                        .expect("bytes match shape");
                    (k.clone(), v)
                })
                .collect();
            for (k, _, _) in shard {
                weight_map.insert(k.clone(), name(i));
            }
            let meta: HashMap<String, String> = [("format".to_string(), "pt".to_string())].into();
            let path = dir.join(name(i));
            let tmp = dir.join(format!(".{}.tmp", name(i)));
            safetensors::serialize_to_file(views, &Some(meta), &tmp).map_err(|e| {
                WeightError::Format {
                    path: tmp.clone(),
                    message: e.to_string(),
                }
            })?;
            std::fs::rename(&tmp, &path).map_err(|source| WeightError::Io { path, source })?;
        }
        if n > 1 {
            let total: usize = shards.iter().flatten().map(|(_, _, b)| b.len()).sum();
            let index = serde_json::json!({
                "metadata": {"total_size": total},
                "weight_map": weight_map,
            });
            let path = dir.join("model.safetensors.index.json");
            std::fs::write(&path, serde_json::to_string_pretty(&index).expect("json"))
                .map_err(|source| WeightError::Io { path, source })?;
        }
        Ok(())
    }
}

impl<B: Backend> WeightVisitor<B> for Saver {
    fn param<const D: usize>(
        &mut self,
        key: &str,
        param: &mut Param<Tensor<B, D>>,
        layout: Layout,
    ) {
        let t = param.val();
        let module: Vec<usize> = t.dims().to_vec();
        let data = t.into_data().convert::<f32>();
        let data: Vec<f32> = data.to_vec().expect("f32 data");
        let shape = layout.file_shape(&module);
        let data = match layout {
            Layout::Same => data,
            // The module holds `[in, out]`; the file wants `[out, in…]` row-major.
            Layout::Transposed | Layout::FlattenTransposed(_) => {
                transpose(&data, module[0], module[1])
            }
        };
        let bytes = match self.dtype {
            SaveDtype::F32 => data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            SaveDtype::Bf16 => data
                .iter()
                .flat_map(|&x| half::bf16::from_f32(x).to_le_bytes())
                .collect(),
        };
        self.tensors.insert(key.to_string(), (shape, bytes));
    }
}
