//! `hico run`: answer a question about a video with a pipeline config; print the answer
//! (streamed), the stage token counts and the ledger; write the run directory.

use hico_backend::HicoAutodiff;
use std::{
    io::Write,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};
use burn::tensor::Device;
use hico_core::config::PipelineConfig;
use hico_model::Pipeline;

use crate::backend::{DeviceArg, Job, dispatch};
use crate::cmd::source::PipelineSource;

/// Arguments of `hico run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pipeline: `--config FILE`, `--model DIR` (a released model), or both.
    #[command(flatten)]
    pub source: PipelineSource,
    /// The video file.
    #[arg(long)]
    pub video: PathBuf,
    /// The question.
    #[arg(long)]
    pub question: String,
    /// Run directory for the resolved config, traces and summary
    /// (default: runs/<config name>-<video stem>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Trained weights: a `hico train` stage folder, its `final/`, or a checkpoint folder
    /// (random init from the config's seed when absent).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// 1-based decoder layers whose attention (per frame) to capture, e.g. `--capture 1,2`.
    #[arg(long, value_delimiter = ',')]
    pub capture: Vec<usize>,
}

/// Run `hico run`.
pub fn run(args: Args, device: DeviceArg) -> Result<()> {
    let cfg = args.source.load()?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&cfg, &args.video));
    dispatch(device, RunJob { args, cfg, out })
}

fn default_out(cfg: &PipelineConfig, video: &Path) -> PathBuf {
    let stem = video
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if cfg.name.is_empty() {
        "run"
    } else {
        &cfg.name
    };
    PathBuf::from("runs").join(format!("{name}-{stem}"))
}

struct RunJob {
    args: Args,
    cfg: PipelineConfig,
    out: PathBuf,
}

impl Job for RunJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        // On a worker of rayon's pool: every op splits its work in place (`on_worker`).
        hico_backend::on_worker(move || self.answer::<B>(device))
    }
}

impl RunJob {
    fn answer<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        // Inference needs no gradients: run on the inner backend.
        let pipe =
            match &self.args.checkpoint {
                Some(ckpt) => hico_train::load_trained::<B::InnerBackend>(&self.cfg, ckpt, &device)
                    .with_context(|| format!("loading trained weights from {}", ckpt.display()))?,
                None => Pipeline::<B::InnerBackend>::new(self.cfg.clone(), &device).with_context(
                    || format!("building the pipeline of {}", self.args.source.describe()),
                )?,
            };
        let pb = crate::progress::bar("encoding clips");
        let video = pipe.encode_video(&self.args.video, Some(&pb))?;
        pb.finish_and_clear();
        let mut stdout = std::io::stdout();
        print!("answer: ");
        let tok = &pipe.tokenizer;
        let out = pipe.answer(
            &video,
            &self.args.question,
            self.args.capture.clone(),
            |t| {
                print!("{}", tok.decode(&[t]));
                let _ = stdout.flush();
            },
        )?;
        println!();
        println!("answer token ids: {:?}", out.answer_tokens);
        print!("{}", out.summary());
        out.write_dir(&self.out, &self.cfg)?;
        println!("run directory: {}", self.out.display());
        Ok(())
    }
}
