//! [`Loader`]: the visitor that fills a module's parameters from [`WeightFiles`].

use std::collections::BTreeSet;

use burn::module::Param;
use burn::tensor::{Tensor, TensorData, backend::Backend};

use super::{Layout, ShapeMismatch, WeightError, WeightFiles, WeightVisitor, transpose};

/// Fills parameters from a checkpoint, collecting every problem instead of stopping at the
/// first; [`Loader::finish`] reports them all. A parameter that cannot be read keeps its
/// (lazy) initial value, so the walk always completes.
pub struct Loader<'a, B: Backend> {
    files: &'a WeightFiles,
    device: B::Device,
    used: BTreeSet<String>,
    missing: Vec<String>,
    mismatched: Vec<ShapeMismatch>,
    failed: Option<WeightError>,
}

impl<'a, B: Backend> Loader<'a, B> {
    /// A loader reading from `files`, placing tensors on `device`.
    pub fn new(files: &'a WeightFiles, device: &B::Device) -> Self {
        Self {
            files,
            device: device.clone(),
            used: BTreeSet::new(),
            missing: Vec::new(),
            mismatched: Vec::new(),
            failed: None,
        }
    }

    /// Keys read so far.
    pub fn used(&self) -> &BTreeSet<String> {
        &self.used
    }

    /// Keys of the checkpoint no visit has read and `ignore` does not accept.
    pub fn unused(&self, ignore: impl Fn(&str) -> bool) -> Vec<String> {
        self.files
            .keys()
            .filter(|k| !self.used.contains(*k) && !ignore(k))
            .map(String::from)
            .collect()
    }

    /// Ok when every visited key was found with its shape and every checkpoint key was
    /// read or accepted by `ignore`; otherwise one error listing every problem. I/O and
    /// dtype errors come first (they say nothing about the key map).
    pub fn finish(self, ignore: impl Fn(&str) -> bool) -> Result<(), WeightError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let unexpected = self.unused(ignore);
        if self.missing.is_empty() && unexpected.is_empty() && self.mismatched.is_empty() {
            return Ok(());
        }
        Err(WeightError::Tensors {
            source_name: self.files.name.clone(),
            missing: self.missing,
            unexpected,
            mismatched: self.mismatched,
        })
    }
}

impl<B: Backend> WeightVisitor<B> for Loader<'_, B> {
    fn param<const D: usize>(
        &mut self,
        key: &str,
        param: &mut Param<Tensor<B, D>>,
        layout: Layout,
    ) {
        let module: Vec<usize> = param.lazy_shape().dims::<D>().to_vec();
        let want = layout.file_shape(&module);
        let Some(info) = self.files.info(key) else {
            self.missing.push(key.to_string());
            return;
        };
        self.used.insert(key.to_string());
        if info.shape != want || want.iter().product::<usize>() != module.iter().product::<usize>()
        {
            self.mismatched.push(ShapeMismatch {
                key: key.to_string(),
                expected: want,
                found: info.shape.clone(),
            });
            return;
        }
        let data = match self.files.read_f32(key) {
            Ok(d) => d,
            Err(e) => {
                self.failed.get_or_insert(e);
                return;
            }
        };
        let data = match layout {
            Layout::Same => data,
            // The file holds `[out, in…]` row-major; the module wants `[in, out]`.
            Layout::Transposed | Layout::FlattenTransposed(_) => {
                let out = want[0];
                transpose(&data, out, data.len() / out.max(1))
            }
        };
        let dims: [usize; D] = module.try_into().expect("rank D");
        let t = Tensor::<B, D>::from_data(TensorData::new(data, dims), &self.device);
        *param = Param::initialized(param.id, t.require_grad());
    }
}
