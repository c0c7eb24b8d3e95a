//! Frames to the vision encoder's input tensor.

use burn::tensor::{Tensor, TensorData, backend::Backend};
use hico_core::config::PixelDtype;

use crate::Frames;

/// `(x/255 − mean) / std` for one byte value, in the release's arithmetic (transformers'
/// `rescale` then `normalize`): `x · (1/255)` in f64, rounded to f32, then the subtraction
/// and division in f32.
pub fn normalise_byte(x: u8, mean: f32, std: f32) -> f32 {
    ((f64::from(x) * (1.0 / 255.0)) as f32 - mean) / std
}

/// Normalise RGB frames into a tensor.
///
/// Bit for bit what the released VideoChat-Flash image processor makes of the same bytes
/// (see [`normalise_byte`]).
///
/// # Shapes
/// - `frames`: `count` frames of `size × size × 3` bytes (HWC)
/// - returns `[count, 3, size, size]` f32, `(x/255 − mean[c]) / std[c]` per channel
pub fn frames_to_tensor<B: Backend>(
    frames: &Frames,
    mean: [f32; 3],
    std: [f32; 3],
    device: &burn::tensor::Device<B>,
) -> Tensor<B, 4> {
    frames_to_tensor_as(frames, mean, std, PixelDtype::F32, device)
}

/// [`frames_to_tensor`], each value then rounded to `pixels` and widened back to f32: with
/// [`PixelDtype::F16`], what a release's `chat()` hands its vision tower (the processor's
/// f32 output cast by `.half()`).
///
/// # Shapes
/// - as [`frames_to_tensor`]
pub fn frames_to_tensor_as<B: Backend>(
    frames: &Frames,
    mean: [f32; 3],
    std: [f32; 3],
    pixels: PixelDtype,
    device: &burn::tensor::Device<B>,
) -> Tensor<B, 4> {
    let (t, s) = (frames.count, frames.size);
    let plane = s * s;
    let mut out = vec![0f32; t * 3 * plane];
    let lut: Vec<[f32; 256]> = (0..3)
        .map(|c| std::array::from_fn(|x| pixels.round(normalise_byte(x as u8, mean[c], std[c]))))
        .collect();
    for k in 0..t {
        let src = frames.frame(k);
        let dst = &mut out[k * 3 * plane..(k + 1) * 3 * plane];
        for (c, lut) in lut.iter().enumerate() {
            for p in 0..plane {
                dst[c * plane + p] = lut[usize::from(src[3 * p + c])];
            }
        }
    }
    Tensor::from_data(TensorData::new(out, [t, 3, s, s]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::Flex;

    #[test]
    fn normalises_per_channel_in_chw_order() {
        // one 2x2 frame: pixel p has RGB (10p, 100, 255)
        let data: Vec<u8> = (0..4u8).flat_map(|p| [10 * p, 100, 255]).collect();
        let frames = Frames {
            size: 2,
            count: 1,
            data,
        };
        let t = frames_to_tensor::<Flex>(
            &frames,
            [0.5, 0.0, 1.0],
            [0.5, 1.0, 2.0],
            &Default::default(),
        );
        assert_eq!(t.dims(), [1, 3, 2, 2]);
        let v = t.into_data().to_vec::<f32>().unwrap();
        let want = [(30.0 / 255.0 - 0.5) / 0.5, 100.0 / 255.0, 0.0];
        assert!((v[3] - want[0]).abs() < 1e-6, "R of pixel 3: {}", v[3]);
        assert!((v[4 + 2] - want[1]).abs() < 1e-6);
        assert!((v[8 + 1] - want[2]).abs() < 1e-6);
        assert!((v[0] + 1.0).abs() < 1e-6);
    }

    #[test]
    fn every_byte_equals_transformers() {
        // fixture: float32 bits of transformers' rescale + normalize (make_resize_fixtures.py)
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/normalise.json");
        let fx: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let floats = |key: &str| -> Vec<f32> {
            fx[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect()
        };
        let (mean, std) = (floats("mean"), floats("std"));
        for c in 0..3 {
            let bits = fx["bits"][c].as_array().unwrap();
            for x in 0..=255u8 {
                let want = bits[usize::from(x)].as_u64().unwrap() as u32;
                let got = normalise_byte(x, mean[c], std[c]);
                assert_eq!(got.to_bits(), want, "channel {c}, byte {x}: {got}");
            }
        }
    }

    #[test]
    fn f16_pixels_are_the_f32_ones_rounded_to_half() {
        let data: Vec<u8> = (0..=255u8).flat_map(|x| [x, 255 - x, x / 3]).collect();
        let frames = Frames {
            size: 16,
            count: 1,
            data,
        };
        let (mean, std) = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
        let dev = Default::default();
        let full = frames_to_tensor::<Flex>(&frames, mean, std, &dev)
            .into_data()
            .into_vec::<f32>()
            .unwrap();
        let half = frames_to_tensor_as::<Flex>(&frames, mean, std, PixelDtype::F16, &dev)
            .into_data()
            .into_vec::<f32>()
            .unwrap();
        let mut changed = 0;
        for (a, b) in full.iter().zip(&half) {
            assert_eq!(*b, ::half::f16::from_f32(*a).to_f32());
            // f16 keeps 11 significant bits: at most half an ulp (2^-11 relative) away
            assert!(
                (a - b).abs() <= a.abs() * 2f32.powi(-11) + 1e-7,
                "{a} -> {b}"
            );
            changed += usize::from(a != b);
        }
        assert!(
            changed > 600,
            "rounding changed only {changed} of 768 values"
        );
    }
}
