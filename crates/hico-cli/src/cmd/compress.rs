//! `hico compress`: run one token-compression method outside a model, on tokens in a
//! safetensors file (the contract of `hico_compress::io`; docs/compression.md).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use hico_compress::io::{load_method, read_tokens, write_output};

/// Arguments of `hico compress`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// TOML file with one `[compressor]` table: `kind` and the method's parameters.
    #[arg(long)]
    pub compressor: PathBuf,
    /// Input safetensors: `tokens` f32 [T, N, C], optional `query` f32 [Q, C] and
    /// `attention` f32 [T, N].
    #[arg(long)]
    pub tokens: PathBuf,
    /// Output safetensors: `tokens` f32 [K, C] in the method's order, `source` i64 [K].
    #[arg(long)]
    pub out: PathBuf,
}

/// Run `hico compress`; prints one JSON line (method, input and output counts, seconds).
pub fn run(args: Args) -> Result<()> {
    let method = load_method(&args.compressor)?;
    let tokens = read_tokens(&args.tokens)?;
    let x = tokens.input();
    let start = Instant::now();
    let plan = method
        .plan(&x)
        .with_context(|| format!("compressing {}", args.tokens.display()))?;
    let seconds = start.elapsed().as_secs_f64();
    write_output(&args.out, &plan, &x)?;
    let (t, n, c) = tokens.shape;
    println!(
        "{}",
        serde_json::json!({
            "kind": method.kind(),
            "frames": t,
            "tokens_in": t * n,
            "channels": c,
            "tokens_out": plan.len(),
            "seconds": seconds,
            "out": args.out.display().to_string(),
        })
    );
    Ok(())
}
