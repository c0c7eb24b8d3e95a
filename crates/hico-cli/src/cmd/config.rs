//! `hico config check FILE`: parse and validate a pipeline config, print it resolved.

use std::path::PathBuf;

use anyhow::Result;
use hico_core::config::PipelineConfig;

/// `hico config` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Check a pipeline config: unknown keys, wrong types, unknown kinds and bad values are
    /// reported with the file, the key and what was expected.
    Check {
        /// The TOML file.
        file: PathBuf,
        /// Print the resolved config (defaults filled in) as JSON.
        #[arg(long)]
        print: bool,
    },
}

/// Run `hico config`.
pub fn run(c: Command) -> Result<()> {
    match c {
        Command::Check { file, print } => {
            let cfg = hico_model::load_config(&file)?;
            if print {
                println!("{}", serde_json::to_string_pretty(&cfg)?);
            } else {
                println!(
                    "{}: ok (sampler {}, compressor {}, connector {}, dropout {})",
                    file.display(),
                    sampler_kind(&cfg),
                    cfg.compressor.kind(),
                    match cfg.connector {
                        hico_core::config::ConnectorConfig::Mlp2xGelu => "mlp2x_gelu",
                        hico_core::config::ConnectorConfig::Linear => "linear",
                    },
                    cfg.dropout.kind()
                );
            }
            Ok(())
        }
    }
}

fn sampler_kind(cfg: &PipelineConfig) -> &'static str {
    use hico_core::config::SamplerConfig::*;
    match cfg.sampler {
        Duration { .. } => "duration",
        Uniform { .. } => "uniform",
        Fps { .. } => "fps",
        DynamicFps { .. } => "dynamic_fps",
    }
}
