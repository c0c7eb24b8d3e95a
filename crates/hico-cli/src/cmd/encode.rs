//! `hico encode`: run the vision side only (decode, sample, encode, compress, connect);
//! print the token count of each stage and write the provenance map.

use hico_backend::HicoAutodiff;
use std::path::PathBuf;

use anyhow::{Context, Result};
use burn::tensor::Device;
use hico_core::config::PipelineConfig;
use hico_model::Pipeline;

use crate::backend::{DeviceArg, Job, dispatch};
use crate::cmd::source::PipelineSource;

/// Arguments of `hico encode`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline: `--config FILE`, `--model DIR` (a released model), or both.
    #[command(flatten)]
    pub source: PipelineSource,
    /// The video file.
    #[arg(long)]
    pub video: PathBuf,
    /// Where to write the provenance map (JSON: per visual token its clip and the
    /// clip-local patch ids merged into it, plus every sampled frame's index and time).
    #[arg(long, default_value = "provenance.json")]
    pub out: PathBuf,
}

/// Run `hico encode`.
pub fn run(args: Args, device: DeviceArg) -> Result<()> {
    let cfg = args.source.load()?;
    dispatch(device, EncodeJob { args, cfg })
}

struct EncodeJob {
    args: Args,
    cfg: PipelineConfig,
}

impl Job for EncodeJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        let pipe = Pipeline::<B::InnerBackend>::new(self.cfg.clone(), &device)
            .with_context(|| format!("building the pipeline of {}", self.args.source.describe()))?;
        let pb = crate::progress::bar("encoding clips");
        let v = pipe.encode_video(&self.args.video, Some(&pb))?;
        pb.finish_and_clear();
        let grid = v.provenance.grid;
        let n = v.provenance.tokens.len();
        println!(
            "video: {} frames at {:.2} fps ({:.2} s)",
            v.info.n_frames, v.info.fps, v.info.duration
        );
        println!(
            "sampler ({:?}): {} frames in {} clips of {}",
            self.cfg.sampler,
            v.plan.len(),
            v.plan.len() / grid.frames,
            grid.frames
        );
        println!(
            "encoder: {} tokens ({}x{} patches per frame)",
            v.encoder_tokens, grid.h, grid.w
        );
        println!(
            "compressor ({}): {} tokens ({:.1} per frame)",
            self.cfg.compressor.kind(),
            n,
            n as f64 / v.plan.len() as f64
        );
        println!("connector: {:?}", v.embeds.dims());
        v.provenance
            .validate()
            .map_err(|e| anyhow::anyhow!("provenance check failed: {e}"))?;
        let json = serde_json::to_string(&v.provenance)?;
        std::fs::write(&self.args.out, json)
            .with_context(|| format!("writing {}", self.args.out.display()))?;
        println!("provenance: {}", self.args.out.display());
        Ok(())
    }
}
