//! Write frames as an mp4 file: lossless H.264 with 4:4:4 chroma (so thin coloured text
//! survives), one frame per `1/fps` seconds, through hico-video's one ffmpeg writer.

use std::path::Path;

use hico_video::synth::{Codec, encode_rgb};

use super::canvas::Canvas;
use crate::EvalError;

/// Encode `frames` (all the same size) into `path` at `fps` frames per second.
pub fn write_mp4(path: &Path, frames: &[Canvas], fps: f64) -> Result<(), EvalError> {
    let err = |message: String| EvalError::Ffmpeg {
        path: path.into(),
        message,
    };
    let first = frames.first().ok_or_else(|| err("no frames".into()))?;
    let (w, h) = (first.width, first.height);
    if let Some(bad) = frames.iter().position(|f| f.width != w || f.height != h) {
        return Err(err(format!("frame {bad} is not {w}x{h}")));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(EvalError::io(dir))?;
    }
    let size = (w, h);
    encode_rgb(
        path,
        size,
        fps,
        Codec::H264Lossless,
        None,
        frames.len(),
        |i| frames[i].data.as_slice(),
    )
    .map_err(|e| err(e.to_string()))
}
