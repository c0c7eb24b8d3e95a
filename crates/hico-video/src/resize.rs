//! Pillow's `BICUBIC` resampling of 8-bit images, bit for bit: what the released
//! VideoChat-Flash image processor does to every frame (`Image.resize((s, s), BICUBIC)`,
//! reached through `transformers`' `resize` of a uint8 array).
//!
//! Written from the published algorithm of Pillow's `ImagingResample` (libImaging,
//! `Resample.c`), which this follows step for step:
//! - separable: a horizontal pass (only over the input rows the vertical pass reads), then a
//!   vertical pass; an axis whose size does not change is not resampled at all, and an image
//!   whose size does not change is copied. Pillow 13 runs the vertical pass first (over all
//!   columns) when the height shrinks by more than twice as many pixels as the width does;
//!   Pillow up to 12, which the release ran, always starts with the horizontal pass (except
//!   for images over 100 times taller than wide): [`PassOrder`] picks one;
//! - per output position `i` on an axis scaled by `scale = in / out`: the filter is stretched
//!   by `fs = max(scale, 1)` (antialiasing when shrinking), support `2·fs`, centre
//!   `(i + 0.5)·scale`, taps `j` from `int(centre − support + 0.5)` (at least 0) to
//!   `int(centre + support + 0.5)` (at most `in`), weight `k((j − centre + 0.5) / fs)` with
//!   Keys' cubic `a = −0.5`, all in f64, then divided by their sum;
//! - weights to fixed point with 22 fractional bits (`PRECISION_BITS = 32 − 8 − 2`),
//!   rounding half away from zero; each output is `(2^21 + Σ pixel·weight) >> 22` clamped to
//!   0..=255, after each pass.
//!
//! Tested for equality with Pillow on generated images, shrinking and enlarging, odd and
//! non-square sizes (`tests/pil_resize.rs`, fixture from `scripts/make_resize_fixtures.py`).

use std::ops::Range;

/// Fractional bits of the fixed-point weights.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Support of the bicubic kernel at scale 1, in input pixels.
const SUPPORT: f64 = 2.0;

/// Keys' cubic convolution kernel with `a = −0.5` (Pillow's `bicubic_filter`).
fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = if x < 0.0 { -x } else { x };
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fixed-point taps of one axis: output `i` reads inputs `first[i]..first[i] + count[i]`
/// with weights `weights[i·ksize..]`.
#[derive(Debug, Clone)]
struct Axis {
    first: Vec<usize>,
    count: Vec<usize>,
    ksize: usize,
    weights: Vec<i32>,
}

impl Axis {
    /// Pillow's `precompute_coeffs` (box = the whole axis) + `normalize_coeffs_8bpc`.
    fn new(in_size: usize, out_size: usize) -> Self {
        // `(double)(in1 - in0) / outSize` with in0 = 0 and in1 = in_size as a float.
        let scale = f64::from(in_size as f32) / out_size as f64;
        let filterscale = if scale < 1.0 { 1.0 } else { scale };
        let support = SUPPORT * filterscale;
        let ksize = support.ceil() as usize * 2 + 1;
        let inv_filterscale = 1.0 / filterscale;
        let mut axis = Axis {
            first: Vec::with_capacity(out_size),
            count: Vec::with_capacity(out_size),
            ksize,
            weights: vec![0; out_size * ksize],
        };
        let mut k = vec![0f64; ksize];
        for i in 0..out_size {
            let center = (i as f64 + 0.5) * scale;
            // C casts to int: truncation toward zero.
            let xmin = ((center - support + 0.5) as i64).max(0);
            let xmax = ((center + support + 0.5) as i64).min(in_size as i64) - xmin;
            let count = xmax.max(0) as usize;
            let mut sum = 0.0;
            for (x, w) in k.iter_mut().enumerate().take(count) {
                *w = bicubic(((x as i64 + xmin) as f64 - center + 0.5) * inv_filterscale);
                sum += *w;
            }
            let row = &mut axis.weights[i * ksize..i * ksize + count];
            for (dst, &w) in row.iter_mut().zip(&k[..count]) {
                let w = if sum != 0.0 { w / sum } else { w };
                let fixed = w * f64::from(1u32 << PRECISION_BITS);
                *dst = if w < 0.0 {
                    (-0.5 + fixed) as i32
                } else {
                    (0.5 + fixed) as i32
                };
            }
            axis.first.push(xmin as usize);
            axis.count.push(count);
        }
        axis
    }

    /// Taps of output `i`: the first input index and the weights.
    fn taps(&self, i: usize) -> (usize, &[i32]) {
        let start = i * self.ksize;
        (self.first[i], &self.weights[start..start + self.count[i]])
    }
}

/// Round a fixed-point accumulator to a byte (Pillow's `clip8`).
#[inline]
fn clip8(acc: i32) -> u8 {
    (acc >> PRECISION_BITS).clamp(0, 255) as u8
}

/// The accumulator's start value: one half in fixed point.
const HALF: i32 = 1 << (PRECISION_BITS - 1);

/// Which of the two passes a Pillow version runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PassOrder {
    /// Pillow up to 12 (what the released VideoChat-Flash ran): horizontal, then vertical.
    #[default]
    HorizontalFirst,
    /// Pillow 13: vertical first when `in_h − out_h > 0` and `in_h − out_h > 2·(in_w −
    /// out_w)`, else horizontal first.
    Pillow13,
}

/// A Pillow `BICUBIC` resize from one size to another, with its weights computed once (all
/// frames of a video share them).
#[derive(Debug, Clone)]
pub struct PilBicubic {
    in_size: (usize, usize),
    out_size: (usize, usize),
    /// Whether the vertical pass runs first.
    vertical_first: bool,
    /// Horizontal taps, when the width changes.
    horizontal: Option<Axis>,
    /// Vertical taps (shifted to start at `rows.start` when a horizontal pass runs first),
    /// when the height changes.
    vertical: Option<Axis>,
    /// Input rows a first horizontal pass covers: those the vertical pass reads.
    rows: Range<usize>,
}

impl PilBicubic {
    /// Prepare a resize of `width × height` images to `out_width × out_height`, passes in
    /// the order of `order`.
    ///
    /// # Panics
    /// If a size is 0.
    pub fn new(
        width: usize,
        height: usize,
        out_width: usize,
        out_height: usize,
        order: PassOrder,
    ) -> Self {
        assert!(
            width > 0 && height > 0 && out_width > 0 && out_height > 0,
            "PilBicubic: sizes must be positive, got {width}×{height} → {out_width}×{out_height}"
        );
        let vertical_first = order == PassOrder::Pillow13 && {
            let (dh, dw) = (
                height as i64 - out_height as i64,
                width as i64 - out_width as i64,
            );
            dh > 0 && dh > 2 * dw
        };
        let horizontal = (out_width != width).then(|| Axis::new(width, out_width));
        let mut vertical = (out_height != height).then(|| Axis::new(height, out_height));
        let rows = match &vertical {
            Some(v) if !vertical_first => {
                v.first[0]..v.first[out_height - 1] + v.count[out_height - 1]
            }
            _ => 0..height,
        };
        if let (Some(v), Some(_)) = (&mut vertical, &horizontal) {
            v.first.iter_mut().for_each(|f| *f -= rows.start);
        }
        Self {
            in_size: (width, height),
            out_size: (out_width, out_height),
            vertical_first,
            horizontal,
            vertical,
            rows,
        }
    }

    /// Resize one image and append the result to `out`.
    ///
    /// # Shapes
    /// - `src`: `height × width × channels` bytes, row-major (HWC)
    /// - appends `out_height × out_width × channels` bytes
    ///
    /// # Panics
    /// If `channels` is not 1 to 4 or `src` has the wrong length.
    pub fn resize_into(&self, src: &[u8], channels: usize, out: &mut Vec<u8>) {
        match channels {
            1 => self.run::<1>(src, out),
            2 => self.run::<2>(src, out),
            3 => self.run::<3>(src, out),
            4 => self.run::<4>(src, out),
            _ => panic!("PilBicubic: {channels} channels (1 to 4 supported)"),
        }
    }

    fn run<const C: usize>(&self, src: &[u8], out: &mut Vec<u8>) {
        let ((w, h), (ow, oh)) = (self.in_size, self.out_size);
        assert_eq!(
            src.len(),
            w * h * C,
            "PilBicubic: {} bytes for a {w}×{h}×{C} image",
            src.len()
        );
        match (&self.horizontal, &self.vertical) {
            (None, None) => out.extend_from_slice(src),
            (Some(hz), None) => out.extend(horizontal::<C>(src, w, 0..h, hz, ow)),
            (None, Some(v)) => vertical::<C>(src, w, v, oh, out),
            (Some(hz), Some(v)) if self.vertical_first => {
                let mut mid = Vec::with_capacity(w * oh * C);
                vertical::<C>(src, w, v, oh, &mut mid);
                out.extend(horizontal::<C>(&mid, w, 0..oh, hz, ow));
            }
            (Some(hz), Some(v)) => {
                let mid = horizontal::<C>(src, w, self.rows.clone(), hz, ow);
                vertical::<C>(&mid, ow, v, oh, out);
            }
        }
    }
}

/// Horizontal pass over input rows `rows`: `rows.len() × ow × C` bytes.
fn horizontal<const C: usize>(
    src: &[u8],
    w: usize,
    rows: Range<usize>,
    axis: &Axis,
    ow: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.len() * ow * C);
    for y in rows {
        let line = &src[y * w * C..(y + 1) * w * C];
        for x in 0..ow {
            let (first, k) = axis.taps(x);
            let mut acc = [HALF; C];
            for (j, &kj) in k.iter().enumerate() {
                let px = &line[(first + j) * C..(first + j + 1) * C];
                for (a, &p) in acc.iter_mut().zip(px) {
                    *a += i32::from(p) * kj;
                }
            }
            out.extend(acc.iter().map(|&a| clip8(a)));
        }
    }
    out
}

/// Vertical pass: `oh × w × C` bytes appended to `out`.
fn vertical<const C: usize>(src: &[u8], w: usize, axis: &Axis, oh: usize, out: &mut Vec<u8>) {
    let stride = w * C;
    out.reserve(oh * stride);
    let mut acc = vec![HALF; stride];
    for y in 0..oh {
        let (first, k) = axis.taps(y);
        acc.fill(HALF);
        for (j, &kj) in k.iter().enumerate() {
            let line = &src[(first + j) * stride..(first + j + 1) * stride];
            for (a, &p) in acc.iter_mut().zip(line) {
                *a += i32::from(p) * kj;
            }
        }
        out.extend(acc.iter().map(|&a| clip8(a)));
    }
}

/// Resize a `width × height × channels` (HWC) image to `out_width × out_height` with
/// Pillow's `BICUBIC` filter, bit for bit (passes in `order`). See [`PilBicubic`] to reuse
/// the weights.
///
/// # Panics
/// As [`PilBicubic::new`] and [`PilBicubic::resize_into`].
pub fn pil_bicubic(
    src: &[u8],
    width: usize,
    height: usize,
    channels: usize,
    out_width: usize,
    out_height: usize,
    order: PassOrder,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(out_width * out_height * channels);
    PilBicubic::new(width, height, out_width, out_height, order)
        .resize_into(src, channels, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_values() {
        assert_eq!(bicubic(0.0), 1.0);
        assert_eq!(bicubic(1.0), 0.0);
        assert_eq!(bicubic(-0.5), 0.5625);
        assert_eq!(bicubic(1.5), -0.0625);
        assert_eq!(bicubic(2.0), 0.0);
    }

    #[test]
    fn weights_sum_to_one_in_fixed_point() {
        for (i, o) in [(640, 224), (224, 448), (7, 3), (1, 5)] {
            let a = Axis::new(i, o);
            for x in 0..o {
                let s: i32 = a.taps(x).1.iter().sum();
                assert!(
                    (s - (1 << PRECISION_BITS)).abs() <= 8,
                    "{i}->{o} at {x}: {s}"
                );
            }
        }
    }

    #[test]
    fn same_size_is_a_copy_and_constant_stays_constant() {
        let src: Vec<u8> = (0..5 * 4 * 3).map(|i| (i * 37 % 256) as u8).collect();
        for order in [PassOrder::HorizontalFirst, PassOrder::Pillow13] {
            assert_eq!(pil_bicubic(&src, 5, 4, 3, 5, 4, order), src);
            let flat = vec![77u8; 9 * 13 * 3];
            assert!(
                pil_bicubic(&flat, 9, 13, 3, 4, 6, order)
                    .iter()
                    .all(|&v| v == 77)
            );
            assert!(
                pil_bicubic(&flat, 9, 13, 3, 20, 31, order)
                    .iter()
                    .all(|&v| v == 77)
            );
        }
    }
}
