//! `hico release`: VideoChat-Flash release-format directories.
//!
//! - `export`: a `hico train` output as a release directory (the release's keys and
//!   config fields; `--template` takes the remote code and tokenizer files of the release
//!   it started from).
//! - `random`: a release-shaped directory with random weights for a pipeline shape (e.g.
//!   the 2B's), for load-time and memory measurements.
//! - `load`: load a release (`--model`) and print load time, peak heap (above the start)
//!   and peak RSS as JSON.

use hico_backend::HicoAutodiff;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;
use hico_core::config::{LlmConfig, PipelineConfig};
use hico_model::Pipeline;
use hico_model::release::{ExportOptions, write_random_release, write_release};
use hico_weights::SaveDtype;
use serde_json::json;

use crate::backend::{DeviceArg, Job, dispatch};
use crate::cmd::source::PipelineSource;

/// Weight element type on disk.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Dtype {
    /// bfloat16 (the releases').
    Bf16,
    /// 32-bit float (lossless for hico's models).
    F32,
}

/// Arguments shared by the writers.
#[derive(Debug, clap::Args)]
pub struct WriteArgs {
    /// Output directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Weight element type.
    #[arg(long, value_enum, default_value = "bf16")]
    pub dtype: Dtype,
    /// Shard the weights into files of at most this many MiB (with an index), as the 7B
    /// releases are; one `model.safetensors` when absent.
    #[arg(long)]
    pub shard_mib: Option<usize>,
    /// A release directory whose non-weight files (remote code, tokenizer files) are copied
    /// and whose config fields are kept where hico sets none.
    #[arg(long)]
    pub template: Option<PathBuf>,
}

impl WriteArgs {
    fn options(&self) -> ExportOptions {
        ExportOptions {
            dtype: match self.dtype {
                Dtype::Bf16 => SaveDtype::Bf16,
                Dtype::F32 => SaveDtype::F32,
            },
            max_shard_bytes: self.shard_mib.map(|m| m << 20),
            template: self.template.clone(),
        }
    }
}

/// `hico release` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a trained model (a `hico train` output folder) as a release directory.
    Export {
        /// The stage output folder, its `final/` or a checkpoint folder.
        #[arg(long)]
        checkpoint: PathBuf,
        /// Pipeline config of the model (default: the `pipeline.json` the training wrote).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Where and how to write.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Write a release-shaped directory with random weights for a pipeline shape config
    /// (its `[llm]` must be `kind = "random"` with a tokenizer.json path).
    Random {
        /// The shape (e.g. `configs/videochat_flash_2b_shape.toml`).
        #[arg(long)]
        config: PathBuf,
        /// Rows of the LLM's embedding (the released Qwen2.5 models: 151936); the
        /// tokenizer's size when absent.
        #[arg(long)]
        vocab: Option<usize>,
        /// Where and how to write.
        #[command(flatten)]
        write: WriteArgs,
    },
    /// Load a release and print its load time and peak memory (JSON line).
    Load {
        /// The pipeline (`--model DIR`, optionally with `--config`).
        #[command(flatten)]
        source: PipelineSource,
    },
}

/// Run `hico release`.
pub fn run(c: Command, device: DeviceArg) -> Result<()> {
    dispatch(device, ReleaseJob(c))
}

struct ReleaseJob(Command);

/// The `tokenizer.json` of a pipeline's LLM.
fn tokenizer_file(cfg: &PipelineConfig) -> Result<PathBuf> {
    match &cfg.llm {
        LlmConfig::Hf { path, .. } => Ok(path.join("tokenizer.json")),
        LlmConfig::Random { tokenizer, .. } if tokenizer != "byte_level" => {
            Ok(PathBuf::from(tokenizer))
        }
        LlmConfig::Random { .. } => {
            // The built-in byte-level tokenizer, written out for the release to copy.
            let path = std::env::temp_dir().join(format!(
                "hico-byte-level-{}.tokenizer.json",
                std::process::id()
            ));
            hico_llm::HicoTokenizer::byte_level().save(&path)?;
            Ok(path)
        }
    }
}

/// The `pipeline.json` `hico train` writes beside the final weights.
fn pipeline_json(checkpoint: &Path) -> Result<PipelineConfig> {
    let dir = checkpoint;
    for p in [dir.join("pipeline.json"), dir.join("final/pipeline.json")] {
        if p.exists() {
            let text = std::fs::read_to_string(&p)?;
            return serde_json::from_str(&text).with_context(|| format!("reading {}", p.display()));
        }
    }
    bail!(
        "{}: no pipeline.json beside the weights; pass --config",
        dir.display()
    )
}

impl Job for ReleaseJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        match self.0 {
            Command::Export {
                checkpoint,
                config,
                write,
            } => {
                let cfg = match &config {
                    Some(c) => hico_model::load_config(c)?,
                    None => pipeline_json(&checkpoint)?,
                };
                let mut pipe =
                    hico_train::load_trained::<B::InnerBackend>(&cfg, &checkpoint, &device)
                        .with_context(|| format!("loading {}", checkpoint.display()))?;
                let tok = tokenizer_file(&cfg)?;
                write_release(&mut pipe.model, &cfg, &tok, &write.out, &write.options())?;
                println!("release directory: {}", write.out.display());
            }
            Command::Random {
                config,
                vocab,
                write,
            } => {
                let cfg = hico_model::load_config(&config)?;
                let opts = write.options();
                write_random_release::<B::InnerBackend>(&cfg, vocab, &write.out, &opts, &device)?;
                println!("release directory: {}", write.out.display());
            }
            Command::Load { source } => {
                let cfg = source.load()?;
                let base = hico_backend::mem::reset();
                let t0 = Instant::now();
                let pipe = Pipeline::<B::InnerBackend>::new(cfg, &device)?;
                let secs = t0.elapsed().as_secs_f64();
                let params = burn::module::Module::num_params(&pipe.model);
                let model_mib = (params * 4) as f64 / (1 << 20) as f64;
                let rss = crate::cmd::measure::peak_rss_mib();
                let heap = crate::cmd::measure::peak_heap_mib(&base);
                println!(
                    "{}",
                    json!({"bench": "load", "model": source.describe(), "load_s": secs,
                           "params": params, "model_f32_mib": model_mib,
                           "peak_heap_mib": heap, "peak_rss_mib": rss,
                           "rss_over_model": rss.map(|r| r / model_mib)})
                );
            }
        }
        Ok(())
    }
}
