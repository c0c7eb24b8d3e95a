//! [`WeightFiles`]: the safetensors files of a checkpoint, read tensor by tensor.
//!
//! Headers are parsed and checked against the file before anything is allocated from them
//! (a header length beyond the file, offsets outside the data, or a byte count that does not
//! match dtype × shape are errors naming the file and the tensor), and tensor bytes are read
//! with positioned reads, one tensor at a time: no file is ever read or mapped whole, so
//! loading adds at most one tensor to the model's own memory.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::WeightError;

/// Headers larger than this are refused (real ones are a few MB at most).
const MAX_HEADER: u64 = 256 << 20;

/// Element types hico reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightDtype {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
}

impl WeightDtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::Bf16 => 2,
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "F32" => Some(Self::F32),
            "F16" => Some(Self::F16),
            "BF16" => Some(Self::Bf16),
            _ => None,
        }
    }
}

/// Where one tensor lives.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    /// Index into [`WeightFiles::paths`].
    pub file: usize,
    /// Element type (`None`: a dtype hico does not read, named in `raw_dtype`).
    pub dtype: Option<WeightDtype>,
    /// The dtype string of the header.
    pub raw_dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Absolute byte offset of the data in the file.
    pub offset: u64,
    /// Byte length.
    pub len: usize,
}

/// The safetensors files of one checkpoint and the index of their tensors.
#[derive(Debug)]
pub struct WeightFiles {
    /// What was opened (a directory or a file), for messages.
    pub name: String,
    /// The files.
    pub paths: Vec<PathBuf>,
    files: Vec<File>,
    tensors: BTreeMap<String, TensorInfo>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WeightError + '_ {
    move |source| WeightError::Io {
        path: path.to_owned(),
        source,
    }
}

impl WeightFiles {
    /// The weights of a Hugging Face model directory: `model.safetensors`, or the shards
    /// named by `model.safetensors.index.json`.
    pub fn open_dir(dir: &Path) -> Result<Self, WeightError> {
        let single = dir.join("model.safetensors");
        let paths = if single.exists() {
            vec![single]
        } else {
            let index = dir.join("model.safetensors.index.json");
            if !index.exists() {
                return Err(WeightError::Format {
                    path: dir.to_owned(),
                    message: "no model.safetensors and no model.safetensors.index.json".into(),
                });
            }
            shards(&index)?.into_iter().map(|f| dir.join(f)).collect()
        };
        let mut w = Self::open(&paths)?;
        w.name = dir.display().to_string();
        Ok(w)
    }

    /// Open safetensors files; a key found in two files is an error.
    pub fn open(paths: &[PathBuf]) -> Result<Self, WeightError> {
        let mut files = Vec::new();
        let mut tensors = BTreeMap::new();
        for (i, path) in paths.iter().enumerate() {
            let file = File::open(path).map_err(io(path))?;
            for (key, mut info) in header(&file, path)? {
                info.file = i;
                if let Some(prev) = tensors.insert(key.clone(), info) {
                    return Err(WeightError::Format {
                        path: path.clone(),
                        message: format!(
                            "tensor `{key}` is also in {}",
                            paths[prev.file].display()
                        ),
                    });
                }
            }
            files.push(file);
        }
        let name = match paths {
            [one] => one.display().to_string(),
            _ => format!("{} safetensors files", paths.len()),
        };
        Ok(Self {
            name,
            paths: paths.to_vec(),
            files,
            tensors,
        })
    }

    /// Every tensor key, sorted.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// Facts of one tensor.
    pub fn info(&self, key: &str) -> Option<&TensorInfo> {
        self.tensors.get(key)
    }

    /// Read one tensor as f32, in its stored (row-major) order.
    pub fn read_f32(&self, key: &str) -> Result<Vec<f32>, WeightError> {
        let info = self.tensors.get(key).ok_or_else(|| WeightError::Format {
            path: PathBuf::from(&self.name),
            message: format!("no tensor `{key}`"),
        })?;
        let path = &self.paths[info.file];
        let dtype = info.dtype.ok_or_else(|| WeightError::Dtype {
            path: path.clone(),
            key: key.into(),
            dtype: info.raw_dtype.clone(),
        })?;
        let mut raw = vec![0u8; info.len];
        self.files[info.file]
            .read_exact_at(&mut raw, info.offset)
            .map_err(io(path))?;
        Ok(match dtype {
            WeightDtype::F32 => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
            WeightDtype::F16 => raw
                .chunks_exact(2)
                .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
            WeightDtype::Bf16 => raw
                .chunks_exact(2)
                .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
                .collect(),
        })
    }
}

/// Shard file names of an index (`weight_map` values), sorted and deduplicated.
fn shards(index: &Path) -> Result<Vec<String>, WeightError> {
    let text = std::fs::read_to_string(index).map_err(io(index))?;
    let bad = |message: String| WeightError::Format {
        path: index.to_owned(),
        message,
    };
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let map = v
        .get("weight_map")
        .and_then(|m| m.as_object())
        .ok_or_else(|| bad("no `weight_map` object".into()))?;
    let mut files = std::collections::BTreeSet::new();
    for (key, file) in map {
        let f = file
            .as_str()
            .ok_or_else(|| bad(format!("weight_map.{key} is not a file name")))?;
        if f.contains('/') || f.contains("..") {
            return Err(bad(format!(
                "weight_map.{key}: `{f}` is not a plain file name"
            )));
        }
        files.insert(f.to_string());
    }
    if files.is_empty() {
        return Err(bad("`weight_map` names no files".into()));
    }
    Ok(files.into_iter().collect())
}

/// Parse and check the header of one safetensors file.
fn header(file: &File, path: &Path) -> Result<Vec<(String, TensorInfo)>, WeightError> {
    let bad = |message: String| WeightError::Format {
        path: path.to_owned(),
        message,
    };
    let file_len = file.metadata().map_err(io(path))?.len();
    let mut n = [0u8; 8];
    file.read_exact_at(&mut n, 0).map_err(|_| {
        bad(format!(
            "{file_len} bytes: too short for a safetensors header"
        ))
    })?;
    let n = u64::from_le_bytes(n);
    if n > MAX_HEADER || n > file_len - 8 {
        return Err(bad(format!(
            "header length {n} does not fit the file ({file_len} bytes): not a safetensors file, or truncated"
        )));
    }
    let mut text = vec![0u8; n as usize];
    file.read_exact_at(&mut text, 8).map_err(io(path))?;
    let v: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&text)
        .map_err(|e| bad(format!("header is not a JSON object: {e}")))?;
    let data_start = 8 + n;
    let data_len = file_len - data_start;
    let mut out = Vec::new();
    for (key, t) in v {
        if key == "__metadata__" {
            continue;
        }
        let raw_dtype = t
            .get("dtype")
            .and_then(|d| d.as_str())
            .ok_or_else(|| bad(format!("tensor `{key}`: no dtype")))?
            .to_string();
        let shape: Vec<usize> = t
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|x| x.as_u64().map(|x| x as usize)).collect())
            .ok_or_else(|| bad(format!("tensor `{key}`: shape is not a list of sizes")))?;
        let offs: Vec<u64> = t
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|x| x.as_u64()).collect())
            .filter(|o: &Vec<u64>| o.len() == 2)
            .ok_or_else(|| bad(format!("tensor `{key}`: data_offsets is not [begin, end]")))?;
        let (begin, end) = (offs[0], offs[1]);
        if begin > end || end > data_len {
            return Err(bad(format!(
                "tensor `{key}`: data_offsets [{begin}, {end}] outside the {data_len} data bytes (truncated file?)"
            )));
        }
        let dtype = WeightDtype::parse(&raw_dtype);
        if let Some(d) = dtype {
            let want = shape
                .iter()
                .try_fold(d.size() as u64, |acc, &s| acc.checked_mul(s as u64));
            if want != Some(end - begin) {
                return Err(bad(format!(
                    "tensor `{key}`: {} bytes do not hold a {raw_dtype} tensor of shape {shape:?}",
                    end - begin
                )));
            }
        }
        out.push((
            key,
            TensorInfo {
                file: 0,
                dtype,
                raw_dtype,
                shape,
                offset: data_start + begin,
                len: (end - begin) as usize,
            },
        ));
    }
    Ok(out)
}
