//! Provenance of visual tokens: which clip, frames and patches each token covers.
//!
//! Patch ids are *clip-local* and in space-time order: patch `p` (row-major in the frame's
//! `h × w` patch grid) of frame `t` of a clip has id `t·h·w + p`. A compressed token holds
//! the sorted ids of every input patch merged into it; its *size* is their count. The
//! position of a token in [`Provenance::tokens`] is its *original visual index*: its
//! index in the visual block as it entered the LLM, which retention traces refer to.

use serde::{Deserialize, Serialize};

/// The patch layout of one clip as the vision encoder produced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchGrid {
    /// Frames per clip (L).
    pub frames: usize,
    /// Patch rows per frame.
    pub h: usize,
    /// Patch columns per frame.
    pub w: usize,
}

impl PatchGrid {
    /// Patches per frame (`h·w`).
    pub fn per_frame(&self) -> usize {
        self.h * self.w
    }
    /// Patches per clip (`frames·h·w`).
    pub fn per_clip(&self) -> usize {
        self.frames * self.per_frame()
    }
    /// Frame (within the clip) of a clip-local patch id.
    pub fn frame_of(&self, id: u32) -> usize {
        id as usize / self.per_frame()
    }
    /// `(row, col)` within its frame of a clip-local patch id.
    pub fn cell_of(&self, id: u32) -> (usize, usize) {
        let p = id as usize % self.per_frame();
        (p / self.w, p % self.w)
    }
}

/// One visual token after compression.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisualToken {
    /// Clip index within the video.
    pub clip: u32,
    /// Sorted clip-local patch ids merged into this token (see the module docs).
    pub members: Vec<u32>,
    /// Patches of other clips merged into this token by a whole-video compressor:
    /// `(clip, sorted clip-local ids)`, clips ascending and after `clip`. Empty when the
    /// token comes from one clip (always, for per-clip compression).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<(u32, Vec<u32>)>,
}

impl VisualToken {
    /// A token of one clip.
    pub fn new(clip: u32, members: Vec<u32>) -> Self {
        Self {
            clip,
            members,
            more: Vec::new(),
        }
    }
    /// Number of input patches merged into this token.
    pub fn size(&self) -> usize {
        self.members.len() + self.more.iter().map(|(_, m)| m.len()).sum::<usize>()
    }
    /// `(clip, sorted clip-local patch ids)` of every clip this token covers, clips ascending.
    pub fn parts(&self) -> impl Iterator<Item = (u32, &[u32])> {
        std::iter::once((self.clip, self.members.as_slice()))
            .chain(self.more.iter().map(|(c, m)| (*c, m.as_slice())))
    }
    /// The union of `tokens` as one token (a merge across tokens, possibly across clips).
    pub fn union<'a>(tokens: impl IntoIterator<Item = &'a VisualToken>) -> Self {
        let mut by_clip: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for t in tokens {
            for (c, m) in t.parts() {
                by_clip.entry(c).or_default().extend_from_slice(m);
            }
        }
        let mut parts = by_clip.into_iter().map(|(c, mut m)| {
            m.sort_unstable();
            m.dedup();
            (c, m)
        });
        let (clip, members) = parts.next().expect("a union of at least one token");
        Self {
            clip,
            members,
            more: parts.collect(),
        }
    }
    /// Distinct frames (within the clip) this token covers, ascending.
    pub fn clip_frames(&self, grid: &PatchGrid) -> Vec<usize> {
        let mut f: Vec<usize> = self.members.iter().map(|&m| grid.frame_of(m)).collect();
        f.dedup();
        f
    }
}

/// Provenance of the whole visual block of one video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Patch grid of every clip.
    pub grid: PatchGrid,
    /// Source-video frame index of every sampled frame, in order (clip `c` holds sampled
    /// frames `c·L .. c·L+L`).
    pub frame_indices: Vec<usize>,
    /// Timestamp in seconds of every sampled frame.
    pub frame_times: Vec<f64>,
    /// The visual tokens in the order they enter the LLM.
    pub tokens: Vec<VisualToken>,
}

impl Provenance {
    /// Sampled-frame indices (0-based, over the whole video) that token `i` covers.
    pub fn sampled_frames(&self, i: usize) -> Vec<usize> {
        let g = &self.grid;
        let mut frames: Vec<usize> = self.tokens[i]
            .parts()
            .flat_map(|(c, m)| {
                m.iter()
                    .map(move |&p| c as usize * g.frames + g.frame_of(p))
            })
            .collect();
        frames.dedup();
        frames
    }
    /// The sampled frame a token is drawn at in video-time plots: its first covered frame.
    pub fn anchor_frame(&self, i: usize) -> usize {
        let t = &self.tokens[i];
        t.clip as usize * self.grid.frames + self.grid.frame_of(t.members[0])
    }
    /// Number of sampled frames.
    pub fn n_frames(&self) -> usize {
        self.frame_indices.len()
    }
    /// Check the invariants: every token non-empty with sorted members, and within each
    /// clip every patch id covered exactly once. Returns a message naming the culprit.
    pub fn validate(&self) -> Result<(), String> {
        self.check(true)
    }

    /// [`Self::validate`] for the tokens after a whole-video compressor, which may drop
    /// tokens: every patch id covered at most once.
    pub fn validate_at_most_once(&self) -> Result<(), String> {
        self.check(false)
    }

    fn check(&self, complete: bool) -> Result<(), String> {
        let n_clips = self.frame_indices.len().div_ceil(self.grid.frames.max(1));
        let mut seen = vec![vec![0u32; self.grid.per_clip()]; n_clips];
        for (i, t) in self.tokens.iter().enumerate() {
            for (c, members) in t.parts() {
                if members.is_empty() {
                    return Err(format!("visual token {i} covers no patch of clip {c}"));
                }
                if !members.windows(2).all(|w| w[0] < w[1]) {
                    return Err(format!("visual token {i}: members not strictly sorted"));
                }
                let clip = seen
                    .get_mut(c as usize)
                    .ok_or_else(|| format!("visual token {i}: clip {c} out of range"))?;
                for &m in members {
                    let slot = clip
                        .get_mut(m as usize)
                        .ok_or_else(|| format!("visual token {i}: patch id {m} out of range"))?;
                    *slot += 1;
                }
            }
        }
        for (c, clip) in seen.iter().enumerate() {
            if let Some(p) = clip.iter().position(|&n| n > 1 || (complete && n != 1)) {
                return Err(format!("clip {c}: patch {p} covered {} times", clip[p]));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid() -> PatchGrid {
        PatchGrid {
            frames: 2,
            h: 2,
            w: 2,
        }
    }

    #[test]
    fn frames_and_cells() {
        let g = grid();
        assert_eq!(g.per_clip(), 8);
        assert_eq!(g.frame_of(5), 1);
        assert_eq!(g.cell_of(5), (0, 1));
        let t = VisualToken::new(1, vec![1, 5]);
        assert_eq!(t.clip_frames(&g), vec![0, 1]);
    }

    #[test]
    fn validate_catches_double_cover() {
        let mut p = Provenance {
            grid: grid(),
            frame_indices: vec![0, 1],
            frame_times: vec![0.0, 1.0],
            tokens: vec![
                VisualToken::new(0, vec![0, 1, 2, 3]),
                VisualToken::new(0, vec![4, 5, 6, 7]),
            ],
        };
        assert!(p.validate().is_ok());
        assert_eq!(p.sampled_frames(1), vec![1]);
        p.tokens[1].members = vec![3, 4, 5, 6, 7];
        assert!(
            p.validate()
                .unwrap_err()
                .contains("patch 3 covered 2 times")
        );
    }

    #[test]
    fn unions_span_clips_and_partial_cover_is_allowed_after_a_video_compressor() {
        let a = VisualToken::new(1, vec![4]);
        let b = VisualToken::new(0, vec![2, 0]);
        let u = VisualToken::union([&a, &b, &a]);
        assert_eq!(u.clip, 0);
        assert_eq!(u.members, vec![0, 2]);
        assert_eq!(u.more, vec![(1, vec![4])]);
        assert_eq!(u.size(), 3);
        let p = Provenance {
            grid: grid(),
            frame_indices: vec![0, 1, 2, 3],
            frame_times: vec![0.0, 1.0, 2.0, 3.0],
            tokens: vec![u],
        };
        assert_eq!(p.sampled_frames(0), vec![0, 3]);
        assert!(p.validate().is_err());
        assert!(p.validate_at_most_once().is_ok());
    }
}
