//! Synthetic haystack frames: slow "scenes" of muted gradients with a drifting grey block,
//! deterministic in the seed. Muted colours keep the saturated needles distinguishable
//! without making them trivially the only colour in the video.

use std::path::Path;

use hico_video::FrameReader;
use rand::{Rng, SeedableRng};

use super::{
    build::BenchRng,
    canvas::{Canvas, Rgb},
};
use crate::EvalError;

/// `n` frames of the video at `path`, resized to `size × size`, spread evenly over it.
pub fn video_haystack(path: &Path, n: usize, size: usize) -> Result<Vec<Canvas>, EvalError> {
    let err = |e: hico_video::VideoError| EvalError::Spec {
        path: path.into(),
        key: "benchmark.haystack.path".into(),
        message: e.to_string(),
    };
    let mut reader = FrameReader::open(path).map_err(err)?;
    let m = reader.info().n_frames.max(1);
    let indices: Vec<usize> = (0..n).map(|i| i * m / n.max(1)).collect();
    let frames = reader.read(&indices, size).map_err(err)?;
    Ok((0..frames.count)
        .map(|k| Canvas {
            width: size,
            height: size,
            data: frames.frame(k).to_vec(),
        })
        .collect())
}

/// One scene: a vertical gradient between two muted colours and a block drifting across.
#[derive(Debug, Clone, Copy)]
struct Scene {
    top: Rgb,
    bottom: Rgb,
    block: Rgb,
    speed: f32,
    len: usize,
}

fn muted(rng: &mut BenchRng) -> Rgb {
    let base: u8 = rng.random_range(50..190);
    let jitter = |rng: &mut BenchRng| base.saturating_add(rng.random_range(0..30));
    [jitter(rng), jitter(rng), jitter(rng)]
}

/// `n` haystack frames of `size × size` pixels for `seed`.
pub fn haystack(n: usize, size: usize, seed: u64) -> Vec<Canvas> {
    let mut rng = BenchRng::seed_from_u64(seed ^ 0x4841_5953);
    let mut frames = Vec::with_capacity(n);
    while frames.len() < n {
        let scene = Scene {
            top: muted(&mut rng),
            bottom: muted(&mut rng),
            block: muted(&mut rng),
            speed: rng.random_range(0.5..2.0),
            len: rng.random_range(6..16),
        };
        for t in 0..scene.len.min(n - frames.len()) {
            frames.push(scene_frame(&scene, t, size));
        }
    }
    frames
}

fn scene_frame(s: &Scene, t: usize, size: usize) -> Canvas {
    let mut c = Canvas::new(size, size, s.top);
    for y in 0..size {
        let a = y as f32 / size.max(1) as f32;
        let px: Rgb = std::array::from_fn(|k| {
            (s.top[k] as f32 * (1.0 - a) + s.bottom[k] as f32 * a).round() as u8
        });
        c.rect(0, y as i64, size as i64, y as i64 + 1, px);
    }
    let side = (size / 4) as i64;
    let x = ((t as f32 * s.speed * size as f32 / 8.0) as i64) % size as i64;
    let y = (size as i64 - side) / 2;
    c.rect(x, y, x + side, y + side, s.block);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_sized_and_varied() {
        let a = haystack(20, 16, 3);
        assert_eq!(a.len(), 20);
        assert_eq!(a, haystack(20, 16, 3));
        assert_ne!(a, haystack(20, 16, 4));
        assert!(
            a.iter()
                .all(|f| f.width == 16 && f.data.len() == 16 * 16 * 3)
        );
        assert!(a.windows(2).any(|w| w[0] != w[1]), "frames move");
    }
}
