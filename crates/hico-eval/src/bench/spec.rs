//! Benchmark specifications (the `[benchmark]` table of an experiment, or `hico niah build`
//! flags): which haystack lengths and needle depths, how many questions, the needle layout.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::EvalError;

/// Which benchmark to build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BenchSpec {
    /// One needle clip per haystack.
    Niah(NiahSpec),
    /// A chain of 5–7 needle clips with clues, distractors and decoys.
    MhNiah(MhNiahSpec),
    /// A small coloured object moving through one clip of a moving haystack.
    Object(ObjectSpec),
    /// Two to four small objects in their own clips; which colour appeared first / last.
    Order(OrderSpec),
}

/// Where haystack frames come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum HaystackSource {
    /// Procedural muted scenes (see `haystack.rs`).
    #[default]
    Synthetic,
    /// Frames of a real video, spread evenly over it (repeated when it is shorter).
    Video {
        /// The video file.
        path: std::path::PathBuf,
    },
}

/// Single-needle NIAH.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NiahSpec {
    /// Haystack lengths in frames (multiples of `needle_frames`).
    pub frames: Vec<usize>,
    /// Needle depths in `[0, 1]` (0 = first clip, 1 = last clip).
    #[serde(default = "default_depths")]
    pub depths: Vec<f64>,
    /// Questions per (frames, depth) cell.
    #[serde(default = "one")]
    pub repeats: usize,
    /// Frame side in pixels.
    #[serde(default = "default_size")]
    pub size: usize,
    /// Frame rate of the written videos.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Frames per needle clip.
    #[serde(default = "default_needle_frames")]
    pub needle_frames: usize,
    /// Shuffle the options per question (else a fixed canonical order).
    #[serde(default = "yes")]
    pub shuffle_options: bool,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Haystack frames.
    #[serde(default)]
    pub haystack: HaystackSource,
}

/// Multi-hop NIAH.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MhNiahSpec {
    /// Haystack lengths in frames (multiples of `needle_frames`).
    pub frames: Vec<usize>,
    /// Depths in `[0, 1]` of the FINAL hop (the first is always at frame 0).
    #[serde(default = "default_depths")]
    pub depths: Vec<f64>,
    /// Questions per (frames, depth) cell.
    #[serde(default = "one")]
    pub repeats: usize,
    /// Fewest needles in a chain (first and final included).
    #[serde(default = "default_min_hops")]
    pub min_hops: usize,
    /// Most needles in a chain.
    #[serde(default = "default_max_hops")]
    pub max_hops: usize,
    /// Distractor needles off the chain with a `NEXT` clue.
    #[serde(default = "two")]
    pub distractors: usize,
    /// Distractor needles off the chain that look final (`END` and a shape of another colour).
    #[serde(default = "one")]
    pub decoys: usize,
    /// Frame side in pixels.
    #[serde(default = "default_size")]
    pub size: usize,
    /// Frame rate of the written videos.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Frames per needle clip.
    #[serde(default = "default_needle_frames")]
    pub needle_frames: usize,
    /// Shuffle the four colour options per question (else RED, GREEN, BLUE, YELLOW).
    #[serde(default)]
    pub shuffle_options: bool,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Haystack frames.
    #[serde(default)]
    pub haystack: HaystackSource,
}

/// Find the object: one clip of the haystack holds a small shape in one of the four answer
/// colours, drifting a few pixels per frame; the question asks its colour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSpec {
    /// Haystack lengths in frames (multiples of `needle_frames`).
    pub frames: Vec<usize>,
    /// Depths in `[0, 1]` of the object's clip (0 = first clip, 1 = last clip).
    #[serde(default = "default_depths")]
    pub depths: Vec<f64>,
    /// Questions per (frames, depth) cell.
    #[serde(default = "one")]
    pub repeats: usize,
    /// Side of the object's bounding box in pixels (a patch is 16 px in the tiny model).
    #[serde(default = "default_object_size")]
    pub object_size: usize,
    /// Frame side in pixels.
    #[serde(default = "default_size")]
    pub size: usize,
    /// Frame rate of the written videos.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Frames of the clip that holds the object.
    #[serde(default = "default_needle_frames")]
    pub needle_frames: usize,
    /// Shuffle the four colour options per question (else RED, GREEN, BLUE, YELLOW).
    #[serde(default)]
    pub shuffle_options: bool,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Haystack frames.
    #[serde(default)]
    pub haystack: HaystackSource,
}

/// Order of events: `min_objects..=max_objects` small objects of distinct answer colours,
/// each drifting through its own clip; the question asks which colour appeared first,
/// second or last (`bench/order.rs`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderSpec {
    /// Haystack lengths in frames (multiples of `needle_frames`).
    pub frames: Vec<usize>,
    /// Depths in `[0, 1]` of the first object's clip among the places it can take.
    #[serde(default = "default_depths")]
    pub depths: Vec<f64>,
    /// Questions per (frames, depth) cell.
    #[serde(default = "one")]
    pub repeats: usize,
    /// Fewest objects per video (1 to 4).
    #[serde(default = "two")]
    pub min_objects: usize,
    /// Most objects per video (up to 4: one per answer colour).
    #[serde(default = "three")]
    pub max_objects: usize,
    /// The kinds of question, one drawn uniformly per video.
    #[serde(default = "default_ask")]
    pub ask: Vec<super::order::OrderAsk>,
    /// Side of each object's bounding box in pixels.
    #[serde(default = "default_object_size")]
    pub object_size: usize,
    /// Frame side in pixels.
    #[serde(default = "default_size")]
    pub size: usize,
    /// Frame rate of the written videos.
    #[serde(default = "default_fps")]
    pub fps: f64,
    /// Frames of each object's clip.
    #[serde(default = "default_needle_frames")]
    pub needle_frames: usize,
    /// Shuffle the four colour options per question (else RED, GREEN, BLUE, YELLOW).
    #[serde(default)]
    pub shuffle_options: bool,
    /// Seed of everything random.
    #[serde(default)]
    pub seed: u64,
    /// Haystack frames.
    #[serde(default)]
    pub haystack: HaystackSource,
}

fn three() -> usize {
    3
}

fn default_ask() -> Vec<super::order::OrderAsk> {
    vec![super::order::OrderAsk::First, super::order::OrderAsk::Last]
}

fn default_object_size() -> usize {
    16
}

fn default_depths() -> Vec<f64> {
    vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
}
fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn yes() -> bool {
    true
}
fn default_size() -> usize {
    64
}
fn default_fps() -> f64 {
    1.0
}
fn default_needle_frames() -> usize {
    4
}
fn default_min_hops() -> usize {
    5
}
fn default_max_hops() -> usize {
    7
}

impl BenchSpec {
    /// The `kind` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Niah(_) => "niah",
            Self::MhNiah(_) => "mh_niah",
            Self::Object(_) => "object",
            Self::Order(_) => "order",
        }
    }

    /// The haystack source.
    pub fn haystack(&self) -> &HaystackSource {
        match self {
            Self::Niah(n) => &n.haystack,
            Self::MhNiah(m) => &m.haystack,
            Self::Object(o) => &o.haystack,
            Self::Order(o) => &o.haystack,
        }
    }

    /// The same spec with another seed and repeat count (e.g. training data).
    pub fn reseeded(&self, seed: u64, repeats: usize) -> Self {
        let mut s = self.clone();
        match &mut s {
            Self::Niah(n) => (n.seed, n.repeats) = (seed, repeats),
            Self::MhNiah(m) => (m.seed, m.repeats) = (seed, repeats),
            Self::Object(o) => (o.seed, o.repeats) = (seed, repeats),
            Self::Order(o) => (o.seed, o.repeats) = (seed, repeats),
        }
        s
    }

    /// Haystack lengths, depths and repeats.
    pub fn layout(&self) -> (&[usize], &[f64], usize) {
        match self {
            Self::Niah(n) => (&n.frames, &n.depths, n.repeats),
            Self::MhNiah(m) => (&m.frames, &m.depths, m.repeats),
            Self::Object(o) => (&o.frames, &o.depths, o.repeats),
            Self::Order(o) => (&o.frames, &o.depths, o.repeats),
        }
    }

    /// Seed, frame side and frame rate.
    pub fn seed_size_fps(&self) -> (u64, usize, f64) {
        match self {
            Self::Niah(n) => (n.seed, n.size, n.fps),
            Self::MhNiah(m) => (m.seed, m.size, m.fps),
            Self::Object(o) => (o.seed, o.size, o.fps),
            Self::Order(o) => (o.seed, o.size, o.fps),
        }
    }

    /// Check the spec; errors name `path` (the file it came from) and the key.
    pub fn validate(&self, path: &Path) -> Result<(), EvalError> {
        let bad = |key: &str, message: String| EvalError::Spec {
            path: path.into(),
            key: format!("benchmark.{key}"),
            message,
        };
        let (frames, depths, repeats, size, fps, nf) = match self {
            Self::Niah(n) => (
                &n.frames,
                &n.depths,
                n.repeats,
                n.size,
                n.fps,
                n.needle_frames,
            ),
            Self::MhNiah(m) => (
                &m.frames,
                &m.depths,
                m.repeats,
                m.size,
                m.fps,
                m.needle_frames,
            ),
            Self::Object(o) => (
                &o.frames,
                &o.depths,
                o.repeats,
                o.size,
                o.fps,
                o.needle_frames,
            ),
            Self::Order(o) => (
                &o.frames,
                &o.depths,
                o.repeats,
                o.size,
                o.fps,
                o.needle_frames,
            ),
        };
        if nf == 0 {
            return Err(bad("needle_frames", "must be at least 1".into()));
        }
        if frames.is_empty() || frames.iter().any(|f| *f == 0 || f % nf != 0) {
            return Err(bad(
                "frames",
                format!("{frames:?}: need positive multiples of needle_frames = {nf}"),
            ));
        }
        if depths.is_empty() || depths.iter().any(|d| !(0.0..=1.0).contains(d)) {
            return Err(bad("depths", format!("{depths:?}: need values in [0, 1]")));
        }
        if repeats == 0 {
            return Err(bad("repeats", "must be at least 1".into()));
        }
        if size < 16 {
            return Err(bad(
                "size",
                format!("{size} px is too small to draw a needle"),
            ));
        }
        if fps.is_nan() || fps <= 0.0 {
            return Err(bad("fps", format!("{fps} must be > 0")));
        }
        if let Self::Object(o) = self {
            check_object_size(o.object_size, size).map_err(|m| bad("object_size", m))?;
        }
        if let Self::Order(o) = self {
            o.validate_objects(size, frames, nf)
                .map_err(|(key, message)| bad(key, message))?;
        }
        if let Self::MhNiah(m) = self {
            if m.min_hops < 2 || m.min_hops > m.max_hops {
                return Err(bad(
                    "min_hops",
                    format!(
                        "need 2 <= min_hops <= max_hops, got {} and {}",
                        m.min_hops, m.max_hops
                    ),
                ));
            }
            let needles = m.max_hops + m.distractors + m.decoys;
            if needles > super::canvas::BACKGROUNDS.len() {
                return Err(bad(
                    "max_hops",
                    format!(
                        "{needles} needles need as many background colours; there are {}",
                        super::canvas::BACKGROUNDS.len()
                    ),
                ));
            }
            let slots = frames.iter().min().copied().unwrap_or(0) / nf;
            if needles > slots {
                return Err(bad(
                    "frames",
                    format!(
                        "the shortest haystack has {slots} needle slots of {nf} frames, \
                         fewer than max_hops + distractors + decoys = {needles}"
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// An object side must be 3 px to half the frame side.
fn check_object_size(object_size: usize, size: usize) -> Result<(), String> {
    if object_size < 3 || object_size > size / 2 {
        return Err(format!(
            "{object_size} px: need 3 to half the frame side ({})",
            size / 2
        ));
    }
    Ok(())
}

impl OrderSpec {
    /// Check the object count, the kinds of question and the object size against the
    /// shortest haystack; an error names the key.
    fn validate_objects(
        &self,
        size: usize,
        frames: &[usize],
        nf: usize,
    ) -> Result<(), (&'static str, String)> {
        use super::order::OrderAsk;
        check_object_size(self.object_size, size).map_err(|m| ("object_size", m))?;
        if self.min_objects < 1 || self.min_objects > self.max_objects || self.max_objects > 4 {
            return Err((
                "min_objects",
                format!(
                    "need 1 <= min_objects <= max_objects <= 4 (one per answer colour), \
                     got {} and {}",
                    self.min_objects, self.max_objects
                ),
            ));
        }
        if self.ask.is_empty() {
            return Err(("ask", "need at least one of first, second, last".into()));
        }
        if self.ask.contains(&OrderAsk::Second) && self.min_objects < 2 {
            return Err((
                "ask",
                format!("`second` needs min_objects >= 2, got {}", self.min_objects),
            ));
        }
        let slots = frames.iter().min().copied().unwrap_or(0) / nf;
        if self.max_objects > slots {
            return Err((
                "frames",
                format!(
                    "the shortest haystack has {slots} clips of {nf} frames, fewer than \
                     max_objects = {}",
                    self.max_objects
                ),
            ));
        }
        Ok(())
    }
}
