//! A synthetic training set whose answers are in the frames: each video is one colour
//! (red, green, blue or yellow, with per-video jitter of the shade), the question asks for
//! it. Small enough to train a tiny model on a laptop CPU in a minute, hard enough that a
//! model must read the pixels (chance is 25%). Videos are encoded by hico-video's `ffmpeg` writer.

use std::path::{Path, PathBuf};

use hico_video::synth::{Codec, encode_rgb};
use serde_json::json;

use crate::{TrainError, checkpoint::write_json, error::io, rng::TrainRng};

/// The answer words and their base RGB colours.
pub const COLOURS: [(&str, [u8; 3]); 4] = [
    ("red", [210, 40, 40]),
    ("green", [40, 190, 60]),
    ("blue", [40, 60, 210]),
    ("yellow", [225, 215, 40]),
];

/// The question of every sample.
pub const QUESTION: &str = "What colour is the video?";

/// One written sample.
#[derive(Debug, Clone)]
pub struct SynthSample {
    /// Video path relative to the dataset folder.
    pub video: PathBuf,
    /// Index into [`COLOURS`].
    pub colour: usize,
}

/// Write `n` one-second 4-fps `size`-px colour videos under `dir/<split>/` and the
/// LLaVA-style annotations `dir/<split>.json`. Colours cycle, shades are jittered by ±`jitter`
/// per channel with `seed`. Returns the annotation path and the samples.
pub fn write_colour_split(
    dir: &Path,
    split: &str,
    n: usize,
    size: usize,
    jitter: u8,
    seed: u64,
) -> Result<(PathBuf, Vec<SynthSample>), TrainError> {
    let media = dir.join(split);
    std::fs::create_dir_all(&media).map_err(io(&media))?;
    let mut rng = TrainRng::new(seed);
    let mut samples = Vec::new();
    let mut items = Vec::new();
    for i in 0..n {
        let colour = i % COLOURS.len();
        let rgb = COLOURS[colour].1.map(|c| {
            let d = rng.below(2 * jitter as usize + 1) as i32 - jitter as i32;
            (c as i32 + d).clamp(0, 255) as u8
        });
        let rel = PathBuf::from(split).join(format!("{i:04}.mp4"));
        make_video(&dir.join(&rel), rgb, size)?;
        items.push(json!({
            "id": format!("{split}-{i}"),
            "video": rel,
            "conversations": [
                {"from": "human", "value": format!("<image>\n{QUESTION}")},
                {"from": "gpt", "value": COLOURS[colour].0},
            ],
        }));
        samples.push(SynthSample { video: rel, colour });
    }
    let ann = dir.join(format!("{split}.json"));
    write_json(&ann, &items)?;
    Ok((ann, samples))
}

/// Write the default tiny dataset: 48 training and 24 held-out videos at 32 px.
pub fn write_colour_dataset(dir: &Path) -> Result<(), TrainError> {
    write_colour_split(dir, "train", 48, 32, 30, 1)?;
    write_colour_split(dir, "test", 24, 32, 30, 2)?;
    Ok(())
}

/// A 1-second, 4-frame video of one colour (through hico-video's ffmpeg writer).
fn make_video(path: &Path, rgb: [u8; 3], size: usize) -> Result<(), TrainError> {
    let frame: Vec<u8> = rgb.iter().copied().cycle().take(3 * size * size).collect();
    encode_rgb(path, (size, size), 4.0, Codec::H264, None, 4, |_| &frame)
        .map_err(|e| TrainError::Invalid(e.to_string()))
}
