//! # hico-cli
//!
//! The `hico` command line: one subcommand per job (run, encode, video, llm, train, niah,
//! eval, ablate, plot, config, bench, release, compress). Each lives in `cmd/<name>.rs` with its clap `Args` and a `run`
//! function; `backend.rs` turns `--device` into a concrete burn backend.

pub mod backend;
pub mod cmd;
pub mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// hico: long-video language models with hierarchical visual-token compression.
#[derive(Debug, Parser)]
#[command(name = "hico", version, about, long_about = None)]
pub struct Cli {
    /// Compute device: cpu (always built), cuda or wgpu (when compiled in with the cargo
    /// feature of the same name).
    #[arg(long, global = true, default_value = "cpu")]
    pub device: backend::DeviceArg,
    /// The job to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Answer a question about a video with a pipeline config.
    Run(cmd::run::Args),
    /// Encode and compress a video; print token counts per stage and write provenance.
    Encode(cmd::encode::Args),
    /// Video tools: probe, sample, synth.
    #[command(subcommand)]
    Video(cmd::video::Command),
    /// Text-only language-model tools.
    #[command(subcommand)]
    Llm(cmd::llm::Command),
    /// Train a model, stage by stage.
    Train(cmd::train::Args),
    /// Needle-in-a-video-haystack benchmarks.
    #[command(subcommand)]
    Niah(cmd::niah::Command),
    /// Score a public video benchmark as its official evaluation does (`compare`, `merge`).
    Eval(cmd::eval::Args),
    /// Run an ablation grid.
    Ablate(cmd::ablate::Args),
    /// Draw the plots of a run directory.
    Plot(cmd::plot::Args),
    /// Configuration tools.
    #[command(subcommand)]
    Config(cmd::config::Command),
    /// Timings and peak memory of model stages (JSON lines).
    #[command(subcommand)]
    Bench(cmd::bench::Command),
    /// Run one token-compression method on tokens in a safetensors file.
    Compress(cmd::compress::Args),
    /// VideoChat-Flash release directories: export a trained model, write a random
    /// release-shaped one, load one.
    #[command(subcommand)]
    Release(cmd::release::Command),
}

/// Entry point of the binary: parse, dispatch, print errors with their causes.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let device = cli.device;
    let result = match cli.command {
        Command::Run(a) => cmd::run::run(a, device),
        Command::Encode(a) => cmd::encode::run(a, device),
        Command::Video(c) => cmd::video::run(c),
        Command::Llm(c) => cmd::llm::run(c, device),
        Command::Train(a) => cmd::train::run(a, device),
        Command::Niah(c) => cmd::niah::run(c, device),
        Command::Ablate(a) => cmd::ablate::run(a, device),
        Command::Eval(a) => cmd::eval::run(a, device),
        Command::Plot(a) => cmd::plot::run(a),
        Command::Config(c) => cmd::config::run(c),
        Command::Bench(c) => cmd::bench::run(c, device),
        Command::Release(c) => cmd::release::run(c, device),
        Command::Compress(a) => cmd::compress::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
