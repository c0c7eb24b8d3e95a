//! The released VideoChat-Flash inference rule: `get_frame_indices(..., sample='dynamic_fps1',
//! min_num_frames=64, max_num_frames=512, local_num_frames=8)` as its `chat()` calls it.
//!
//! For a video of `n` frames at `fps` (the container's average rate) and multiple `m`:
//! 1. if `min_frames > n`, `min_frames` becomes `m · ⌊n / m⌋`;
//! 2. `s = int((n / fps) // m)` with Python's float floor division; `T = m · s`, or `m` when
//!    `s = 0`;
//! 3. `T = min(T, max_frames)` when `max_frames > 0`, then `T = max(T, min_frames)`;
//! 4. the middles of `min(T, n)` equal segments ([`segment_middles`]), padded with the last
//!    index up to `T`.
//!
//! So a 3-minute video gets 176 frames (1 fps rounded down to a multiple of 8), anything
//! under 64 s gets 64 (fewer, padded, when it has fewer than 64 frames), anything over
//! 512 s gets 512. The index lists are tested against the release's own function
//! (`tests/dynamic_fps.rs`, fixture made by `scripts/make_sampler_fixtures.py`).

use hico_core::{CoreError, FramePlan, Sampler, VideoInfo};

#[cfg(doc)]
use super::segment_middles;
use super::{check, plan};

/// Frame counts above this are refused (only reachable with no cap and a frame rate far
/// below one per second).
const MAX_COUNT: usize = 1 << 20;

/// The release's `dynamic_fps1` sampler (see the module docs for the exact rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynamicFpsSampler {
    /// Lower bound on T (64 in the release).
    pub min_frames: usize,
    /// Upper bound on T (512 in the release); 0: no cap.
    pub max_frames: usize,
    /// T is a multiple of this (`local_num_frames`, 8 in the release); at least 1.
    pub frame_multiple: usize,
}

/// Python's `a // b` for floats (CPython's `float_floor_div`: `fmod`, then a rounding
/// correction), which can differ from `(a / b).floor()` when `a / b` rounds up to an integer.
fn py_floordiv(a: f64, b: f64) -> f64 {
    let rem = a % b; // C fmod
    let mut div = (a - rem) / b;
    if rem != 0.0 && ((b < 0.0) != (rem < 0.0)) {
        div -= 1.0;
    }
    if div == 0.0 {
        return 0.0;
    }
    let floor = div.floor();
    if div - floor > 0.5 {
        floor + 1.0
    } else {
        floor
    }
}

impl DynamicFpsSampler {
    /// T for a video of `n` frames at `fps` frames per second.
    pub fn frame_count(&self, n: usize, fps: f64) -> usize {
        let m = self.frame_multiple.max(1);
        let min = if self.min_frames > n {
            m * (n / m)
        } else {
            self.min_frames
        };
        // `int()` of a non-negative float: truncation (saturating for absurd rates).
        let segments = py_floordiv(n as f64 / fps, m as f64) as usize;
        let mut t = if segments == 0 {
            m
        } else {
            m.saturating_mul(segments)
        };
        if self.max_frames > 0 {
            t = t.min(self.max_frames);
        }
        t.max(min)
    }
}

impl Sampler for DynamicFpsSampler {
    fn sample(&self, info: &VideoInfo) -> Result<FramePlan, CoreError> {
        check(info)?;
        let t = self.frame_count(info.n_frames, info.fps);
        if t > MAX_COUNT {
            return Err(CoreError::Invalid(format!(
                "sampler dynamic_fps: {t} frames asked for a video of {} frames at {} fps \
                 (set sampler.max_frames)",
                info.n_frames, info.fps
            )));
        }
        Ok(plan(info, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RELEASE: DynamicFpsSampler = DynamicFpsSampler {
        min_frames: 64,
        max_frames: 512,
        frame_multiple: 8,
    };

    #[test]
    fn release_counts() {
        assert_eq!(RELEASE.frame_count(180 * 30, 30.0), 176); // 3 min: 22 multiples of 8
        assert_eq!(RELEASE.frame_count(20 * 25, 25.0), 64); // short: raised to 64
        assert_eq!(RELEASE.frame_count(3600 * 25, 25.0), 512); // long: capped
        assert_eq!(RELEASE.frame_count(50, 25.0), 48); // 50 frames: min -> 8·6
        assert_eq!(RELEASE.frame_count(5, 25.0), 8); // min -> 0, one multiple, padded
        let no_cap = DynamicFpsSampler {
            max_frames: 0,
            ..RELEASE
        };
        assert_eq!(no_cap.frame_count(3600 * 25, 25.0), 3600);
    }

    #[test]
    fn python_floor_division() {
        assert_eq!(py_floordiv(17.0, 8.0), 2.0);
        assert_eq!(py_floordiv(7.999, 8.0), 0.0);
        assert_eq!(py_floordiv(0.0, 8.0), 0.0);
        // 0.3 // 0.1 is 2.0 in Python although 0.3 / 0.1 rounds to 3.0000000000000004
        assert_eq!(py_floordiv(0.3, 0.1), 2.0);
        assert_eq!(py_floordiv(1.0, 0.1), 9.0);
    }

    #[test]
    fn pads_short_videos_and_refuses_absurd_counts() -> Result<(), CoreError> {
        let info = |n: usize, fps: f64| VideoInfo {
            n_frames: n,
            fps,
            duration: n as f64 / fps,
            width: 8,
            height: 8,
        };
        let p = RELEASE.sample(&info(3, 30.0))?;
        assert_eq!(p.indices, vec![0, 1, 2, 2, 2, 2, 2, 2]);
        let no_cap = DynamicFpsSampler {
            max_frames: 0,
            ..RELEASE
        };
        let e = no_cap.sample(&info(100, 1e-6)).unwrap_err().to_string();
        assert!(e.contains("sampler.max_frames"), "{e}");
        Ok(())
    }
}
