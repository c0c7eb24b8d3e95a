//! Frame samplers: which frame indices of a video the model sees.
//!
//! All three pick the middles of equal segments (the reference's `get_frame_indices`) and
//! pad with the last frame when the video has fewer frames than asked; they differ only
//! in how many frames T they ask for:
//! - [`DurationSampler`]: the paper's rule (docs/design.md "Duration-based sampling"),
//! - [`UniformSampler`]: a fixed T,
//! - [`FpsSampler`]: a rate, clamped and rounded to a multiple of the clip length,
//! - [`DynamicFpsSampler`]: the released VideoChat-Flash `chat()` rule (`dynamic_fps.rs`).

use hico_core::config::SamplerConfig;
use hico_core::{CoreError, FramePlan, Sampler, VideoInfo};

mod dynamic_fps;

pub use dynamic_fps::DynamicFpsSampler;

/// Build the sampler a config names, for clips of `clip_len` frames.
pub fn build_sampler(cfg: &SamplerConfig, clip_len: usize) -> Box<dyn Sampler> {
    let clip_len = clip_len.max(1);
    match *cfg {
        SamplerConfig::Duration { t_min, t_max } => Box::new(DurationSampler {
            t_min,
            t_max,
            clip_len,
        }),
        SamplerConfig::Uniform { frames } => Box::new(UniformSampler { frames, clip_len }),
        SamplerConfig::Fps {
            fps,
            min_frames,
            max_frames,
        } => Box::new(FpsSampler {
            fps,
            min_frames,
            max_frames,
            clip_len,
        }),
        SamplerConfig::DynamicFps {
            min_frames,
            max_frames,
            frame_multiple,
        } => Box::new(DynamicFpsSampler {
            min_frames,
            max_frames,
            frame_multiple,
        }),
    }
}

/// `numpy.linspace(0, n, m + 1).astype(int)`, reproducing numpy's float arithmetic
/// (`k · (n/m)`, last element exactly `n`) so that edges match the reference bit for bit.
fn linspace_edges(n: usize, m: usize) -> Vec<i64> {
    let step = n as f64 / m as f64;
    let mut edges: Vec<i64> = (0..=m).map(|k| (k as f64 * step) as i64).collect();
    edges[m] = n as i64;
    edges
}

/// The middles of `min(t, n)` equal segments of `n` frames, padded with the last index up
/// to `t` entries.
pub fn segment_middles(n: usize, t: usize) -> Vec<usize> {
    if n == 0 || t == 0 {
        return Vec::new();
    }
    let m = t.min(n);
    let edges = linspace_edges(n, m);
    let mut idx: Vec<usize> = (0..m)
        .map(|i| {
            (edges[i] + edges[i + 1] - 1)
                .div_euclid(2)
                .clamp(0, n as i64 - 1) as usize
        })
        .collect();
    let last = *idx.last().expect("m >= 1");
    idx.resize(t, last);
    idx
}

fn check(info: &VideoInfo) -> Result<(), CoreError> {
    if info.n_frames == 0 {
        return Err(CoreError::Invalid(
            "sampler: the video has no frames".into(),
        ));
    }
    if !(info.fps.is_finite() && info.fps > 0.0) {
        return Err(CoreError::Invalid(format!(
            "sampler: frame rate {} is not a positive number",
            info.fps
        )));
    }
    Ok(())
}

fn plan(info: &VideoInfo, t: usize) -> FramePlan {
    let indices = segment_middles(info.n_frames, t);
    let timestamps = indices.iter().map(|&i| i as f64 / info.fps).collect();
    FramePlan {
        indices,
        timestamps,
        duration: info.n_frames as f64 / info.fps,
    }
}

/// The paper's rule: about one frame per second, a multiple of the clip length, clamped to
/// `[t_min, t_max]` (`t_min` shrinks to the whole clips available when the video is
/// shorter).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DurationSampler {
    /// Lower bound on T.
    pub t_min: usize,
    /// Upper bound on T.
    pub t_max: usize,
    /// Clip length L.
    pub clip_len: usize,
}

impl DurationSampler {
    /// T for a video of `n` frames at `fps` (docs/design.md, exactly).
    pub fn frame_count(&self, n: usize, fps: f64) -> usize {
        let l = self.clip_len;
        let t_min = if self.t_min > n {
            l * (n / l)
        } else {
            self.t_min
        };
        let d = n as f64 / fps;
        let t = if d < l as f64 {
            l
        } else {
            l * (d / l as f64).floor() as usize
        };
        t.min(self.t_max).max(t_min)
    }
}

impl Sampler for DurationSampler {
    fn sample(&self, info: &VideoInfo) -> Result<FramePlan, CoreError> {
        check(info)?;
        Ok(plan(info, self.frame_count(info.n_frames, info.fps)))
    }
}

/// A fixed number of frames.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UniformSampler {
    /// T (a multiple of the clip length; rounded up to one if not).
    pub frames: usize,
    /// Clip length L.
    pub clip_len: usize,
}

impl Sampler for UniformSampler {
    fn sample(&self, info: &VideoInfo) -> Result<FramePlan, CoreError> {
        check(info)?;
        let l = self.clip_len;
        Ok(plan(info, self.frames.div_ceil(l).max(1) * l))
    }
}

/// A fixed rate: `round(D · fps)` frames clamped to `[min_frames, max_frames]`, then
/// rounded down to a multiple of the clip length (at least one clip).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FpsSampler {
    /// Frames per second of video.
    pub fps: f64,
    /// Lower bound on T.
    pub min_frames: usize,
    /// Upper bound on T.
    pub max_frames: usize,
    /// Clip length L.
    pub clip_len: usize,
}

impl FpsSampler {
    /// T for a video of `duration` seconds.
    pub fn frame_count(&self, duration: f64) -> usize {
        let l = self.clip_len;
        let t = (duration * self.fps).round().max(0.0) as usize;
        let t = t.clamp(self.min_frames, self.max_frames.max(self.min_frames));
        ((t / l) * l).max(l)
    }
}

impl Sampler for FpsSampler {
    fn sample(&self, info: &VideoInfo) -> Result<FramePlan, CoreError> {
        check(info)?;
        Ok(plan(
            info,
            self.frame_count(info.n_frames as f64 / info.fps),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(n: usize, fps: f64) -> VideoInfo {
        VideoInfo {
            n_frames: n,
            fps,
            duration: n as f64 / fps,
            width: 64,
            height: 64,
        }
    }
    fn dur(t_min: usize, t_max: usize) -> DurationSampler {
        DurationSampler {
            t_min,
            t_max,
            clip_len: 4,
        }
    }

    #[test]
    fn middles_match_numpy() {
        // python: e = np.linspace(0, 10, 5).astype(int) -> [0 2 5 7 10]; (a+b-1)//2
        assert_eq!(segment_middles(10, 4), vec![0, 3, 5, 8]);
        // 300 frames, 8 segments: edges 0,37,75,112,150,187,225,262,300
        assert_eq!(
            segment_middles(300, 8),
            vec![18, 55, 93, 130, 168, 205, 243, 280]
        );
        // pad with the last frame
        assert_eq!(segment_middles(3, 8), vec![0, 1, 2, 2, 2, 2, 2, 2]);
        assert!(segment_middles(0, 4).is_empty());
    }

    #[test]
    fn three_second_video() -> Result<(), CoreError> {
        // 90 frames at 30 fps: D = 3 < L -> T = L = 4, raised to t_min = 64, 64 <= 90.
        let p = dur(64, 512).sample(&info(90, 30.0))?;
        assert_eq!(p.len(), 64);
        assert!((p.duration - 3.0).abs() < 1e-12);
        assert!(p.indices.windows(2).all(|w| w[0] < w[1]));
        // with t_min = 4: exactly one clip
        assert_eq!(dur(4, 512).sample(&info(90, 30.0))?.len(), 4);
        Ok(())
    }

    #[test]
    fn ten_hour_video_is_capped() -> Result<(), CoreError> {
        let p = dur(64, 512).sample(&info(10 * 3600 * 25, 25.0))?;
        assert_eq!(p.len(), 512);
        assert_eq!(p.indices[0], (10 * 3600 * 25 / 512 - 1) / 2);
        Ok(())
    }

    #[test]
    fn one_fps_rounded_to_clips() {
        // 103 s -> 100 frames (multiple of 4), inside [64, 512]
        assert_eq!(dur(64, 512).frame_count(103 * 30, 30.0), 100);
        assert_eq!(dur(8, 16).frame_count(30 * 30, 30.0), 16);
        assert_eq!(dur(8, 16).frame_count(9 * 30, 30.0), 8);
    }

    #[test]
    fn t_min_above_frames_available() -> Result<(), CoreError> {
        // 50 frames, t_min 64 -> t_min becomes 4·12 = 48 frames, all distinct.
        let p = dur(64, 512).sample(&info(50, 25.0))?;
        assert_eq!(p.len(), 48);
        assert!(p.indices.windows(2).all(|w| w[0] < w[1]));
        // 2 frames: t_min -> 0, T = L = 4, padded with the last frame.
        let p = dur(64, 512).sample(&info(2, 25.0))?;
        assert_eq!(p.indices, vec![0, 1, 1, 1]);
        assert_eq!(p.timestamps, vec![0.0, 0.04, 0.04, 0.04]);
        Ok(())
    }

    #[test]
    fn uniform_and_fps() -> Result<(), CoreError> {
        let u = UniformSampler {
            frames: 8,
            clip_len: 4,
        };
        assert_eq!(u.sample(&info(300, 30.0))?.indices, segment_middles(300, 8));
        assert_eq!(
            u.sample(&info(5, 30.0))?.indices,
            vec![0, 1, 2, 3, 4, 4, 4, 4]
        );
        let f = FpsSampler {
            fps: 2.0,
            min_frames: 4,
            max_frames: 32,
            clip_len: 4,
        };
        assert_eq!(f.frame_count(7.0), 12); // 14 -> 12
        assert_eq!(f.frame_count(1.0), 4); // clamped up
        assert_eq!(f.frame_count(3600.0), 32); // clamped down
        Ok(())
    }

    #[test]
    fn rejects_empty_video() {
        assert!(dur(4, 8).sample(&info(0, 25.0)).is_err());
        assert!(dur(4, 8).sample(&info(10, 0.0)).is_err());
    }

    #[test]
    fn builds_from_config() -> Result<(), CoreError> {
        let s = build_sampler(&SamplerConfig::Uniform { frames: 8 }, 4);
        assert_eq!(s.sample(&info(100, 10.0))?.len(), 8);
        Ok(())
    }
}
