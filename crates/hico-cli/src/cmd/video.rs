//! `hico video probe|sample|synth`: inspect a video, write the frames and prompt a
//! pipeline config would feed the model, or generate a synthetic video with needles.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use hico_video::synth::{Codec, Needle, Shape, SynthSpec, write_video_with};
use hico_video::{FrameReader, build_sampler, probe, timestamp_prompt};

use crate::progress::bar;

/// `hico video` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Print duration, frame rate, frame count and size of a video (JSON).
    Probe {
        /// The video file.
        file: PathBuf,
    },
    /// Sample frames as a pipeline config says; write them as PNGs plus the prompt.
    Sample {
        /// The video file.
        file: PathBuf,
        /// Pipeline config (TOML) whose `[sampler]`, `[video]` and `[prompt]` are used.
        #[arg(long)]
        config: PathBuf,
        /// Output directory (created).
        #[arg(long)]
        out: PathBuf,
    },
    /// Write a synthetic video with known content and optional needles, plus a JSON
    /// manifest of what is where.
    Synth {
        /// Output video file (extension should match --codec: mp4, webm, avi).
        out: PathBuf,
        /// Number of frames.
        #[arg(long, default_value_t = 600)]
        frames: usize,
        /// Frame rate.
        #[arg(long, default_value_t = 30.0)]
        fps: f64,
        /// Square frame size in pixels (even).
        #[arg(long, default_value_t = 128)]
        size: usize,
        /// Keyframe interval in frames (default: 2 seconds).
        #[arg(long)]
        gop: Option<usize>,
        /// Codec: h264, h264_lossless (4:4:4, for small text), vp9 or mpeg4.
        #[arg(long, default_value = "h264")]
        codec: String,
        /// Needle `START..END:TEXT:R,G,B:SHAPE` (shape: square, circle, triangle); repeatable.
        #[arg(long)]
        needle: Vec<String>,
        /// Manifest path (default: the video path with `.json`).
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
}

fn parse_needle(s: &str) -> Result<Needle> {
    let parts: Vec<&str> = s.split(':').collect();
    let [range, text, color, shape] = parts[..] else {
        bail!("--needle {s:?}: expected START..END:TEXT:R,G,B:SHAPE");
    };
    let (a, b) = range
        .split_once("..")
        .with_context(|| format!("--needle {s:?}: range must be START..END"))?;
    let rgb: Vec<u8> = color
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("--needle {s:?}: colour must be R,G,B bytes"))?;
    let shape = match shape {
        "square" => Shape::Square,
        "circle" => Shape::Circle,
        "triangle" => Shape::Triangle,
        other => bail!("--needle {s:?}: unknown shape {other:?} (square, circle, triangle)"),
    };
    let (start, end): (usize, usize) = (a.parse()?, b.parse()?);
    if start >= end || rgb.len() != 3 {
        bail!("--needle {s:?}: need START < END and three colour bytes");
    }
    Ok(Needle {
        start,
        end,
        text: text.to_string(),
        color: [rgb[0], rgb[1], rgb[2]],
        shape,
    })
}

fn sample(file: PathBuf, config: PathBuf, out: PathBuf) -> Result<()> {
    let cfg = hico_model::load_config(&config)?;
    let mut reader = FrameReader::open(&file)?;
    reader.set_resize(cfg.video.resize);
    let info = *reader.info();
    let plan = build_sampler(&cfg.sampler, cfg.video.clip_len).sample(&info)?;
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let pb = bar("sampling");
    pb.set_length(plan.len() as u64);
    let size = cfg.video.size;
    for (c, clip) in plan.indices.chunks(cfg.video.clip_len.max(1)).enumerate() {
        let frames = reader.read(clip, size)?;
        for (k, idx) in clip.iter().enumerate() {
            let t = c * cfg.video.clip_len.max(1) + k;
            frames.save_png(k, &out.join(format!("frame_{t:04}_idx{idx:07}.png")))?;
            pb.inc(1);
        }
    }
    pb.finish_and_clear();
    let prompt = timestamp_prompt(&plan, cfg.prompt.timestamps);
    let prompt_path = out.join("prompt.txt");
    std::fs::write(&prompt_path, &prompt)
        .with_context(|| format!("writing {}", prompt_path.display()))?;
    let plan_path = out.join("plan.json");
    let json = serde_json::json!({ "video": file, "info": info, "plan": plan });
    std::fs::write(&plan_path, serde_json::to_string_pretty(&json)?)
        .with_context(|| format!("writing {}", plan_path.display()))?;
    println!(
        "{} frames of {} written to {} (decoded {}, seeks {})\n{prompt}",
        plan.len(),
        file.display(),
        out.display(),
        reader.decoded,
        reader.seeks
    );
    Ok(())
}

/// Run `hico video`.
pub fn run(c: Command) -> Result<()> {
    match c {
        Command::Probe { file } => {
            let info = probe(&file)?;
            println!("{}", serde_json::to_string_pretty(&info)?);
        }
        Command::Sample { file, config, out } => sample(file, config, out)?,
        Command::Synth {
            out,
            frames,
            fps,
            size,
            gop,
            codec,
            needle,
            manifest,
        } => {
            let mut spec = SynthSpec::new(frames, fps, size);
            spec.gop = gop.unwrap_or(spec.gop);
            spec.codec = match codec.as_str() {
                "h264" => Codec::H264,
                "vp9" => Codec::Vp9,
                "mpeg4" => Codec::Mpeg4,
                "h264_lossless" => Codec::H264Lossless,
                other => bail!("--codec {other:?}: expected h264, h264_lossless, vp9 or mpeg4"),
            };
            spec.needles = needle
                .iter()
                .map(|s| parse_needle(s))
                .collect::<Result<_>>()?;
            if let Some(n) = spec.needles.iter().find(|n| n.end > frames) {
                bail!(
                    "needle {}..{} ends after the last frame ({frames})",
                    n.start,
                    n.end
                );
            }
            let pb = bar("synth");
            pb.set_length(frames as u64);
            let m = write_video_with(&spec, &out, |k| pb.set_position(k as u64))?;
            pb.finish_and_clear();
            let mpath = manifest.unwrap_or_else(|| out.with_extension("json"));
            m.write_json(&mpath)?;
            println!("wrote {} and {}", out.display(), mpath.display());
        }
    }
    Ok(())
}
