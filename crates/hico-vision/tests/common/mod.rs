//! Shared helpers of the integration tests: reading the committed fixtures.

#![allow(dead_code)]

use std::path::PathBuf;

use safetensors::{Dtype, SafeTensors};

/// Path of a fixture file.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A fixture file's tensors.
pub struct Fixture(Vec<u8>);

impl Fixture {
    /// Read a fixture file.
    pub fn open(name: &str) -> Self {
        Self(
            std::fs::read(fixture(name))
                .expect("fixture file (run scripts/make_vision_fixtures.py)"),
        )
    }

    /// Shape and f32 values of a tensor.
    pub fn f32(&self, key: &str) -> (Vec<usize>, Vec<f32>) {
        let st = SafeTensors::deserialize(&self.0).unwrap();
        let v = st
            .tensor(key)
            .unwrap_or_else(|_| panic!("fixture tensor {key}"));
        assert_eq!(v.dtype(), Dtype::F32, "{key}");
        let data = v
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (v.shape().to_vec(), data)
    }

    /// Shape and i64 values of a tensor.
    pub fn i64(&self, key: &str) -> (Vec<usize>, Vec<i64>) {
        let st = SafeTensors::deserialize(&self.0).unwrap();
        let v = st
            .tensor(key)
            .unwrap_or_else(|_| panic!("fixture tensor {key}"));
        assert_eq!(v.dtype(), Dtype::I64, "{key}");
        let data = v
            .data()
            .chunks_exact(8)
            .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        (v.shape().to_vec(), data)
    }
}

/// Largest absolute difference.
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}
