//! `hico llm generate`: text-only generation with a Hugging Face directory of any supported
//! family (`hico_llm::supported_model_types`), streaming
//! tokens to the terminal as they are decoded.

use hico_backend::HicoAutodiff;
use std::io::Write;

use anyhow::{Context, Result};
use burn::tensor::Device;
use hico_core::LanguageModel;
use hico_core::config::GenerationConfig;
use hico_llm::{
    AttentionOptions, CausalLm, HicoTokenizer, chat_prompt, generate, ids_tensor, text_input,
};

use crate::backend::{DeviceArg, Job, dispatch};

/// `hico llm` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate text from a prompt with a Hugging Face model directory (Qwen2 / Qwen2.5,
    /// LLaMA, Qwen3).
    Generate {
        /// Model directory (config.json, safetensors, tokenizer.json).
        #[arg(long)]
        model: std::path::PathBuf,
        /// The prompt.
        #[arg(long)]
        prompt: String,
        /// System message of the chat template.
        #[arg(long, default_value = "You are a helpful assistant.")]
        system: String,
        /// Feed the prompt as is, without the chat template.
        #[arg(long)]
        raw: bool,
        /// Tokens to generate at most.
        #[arg(long, default_value_t = 128)]
        max_new_tokens: usize,
        /// Sampling temperature (0 = greedy).
        #[arg(long, default_value_t = 0.0)]
        temperature: f64,
        /// Nucleus mass.
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        /// Keep the k most likely tokens when sampling (0 = off).
        #[arg(long, default_value_t = 0)]
        top_k: usize,
        /// Repetition penalty over the prompt and the generated ids (1 = off).
        #[arg(long, default_value_t = 1.0)]
        repetition_penalty: f64,
        /// Sampling seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
}

struct Generate(Command);

impl Job for Generate {
    type Output = ();
    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        let Command::Generate {
            model,
            prompt,
            system,
            raw,
            max_new_tokens,
            temperature,
            top_p,
            top_k,
            repetition_penalty,
            seed,
        } = self.0;
        let start = std::time::Instant::now();
        // Inference needs no autodiff: run on the inner backend.
        let m: CausalLm<B::InnerBackend> = CausalLm::load_hf(&model, &device)
            .with_context(|| format!("loading {}", model.display()))?
            .with_attention(AttentionOptions::from_env());
        let tok = HicoTokenizer::from_file(&model.join("tokenizer.json"))?;
        let text = if raw {
            prompt
        } else {
            let (before, after) = chat_prompt(&system, &prompt);
            before + &after
        };
        let ids = tok.encode(&text);
        eprintln!(
            "loaded {} in {:.1}s; prompt {} tokens",
            model.display(),
            start.elapsed().as_secs_f64(),
            ids.len()
        );
        let cfg = GenerationConfig {
            max_new_tokens,
            temperature,
            top_p,
            top_k,
            repetition_penalty,
            seed,
        };
        let mut stop = tok.stop_ids();
        stop.extend(&m.spec.eos_token_ids);
        let (mut out, mut shown) = (Vec::new(), 0usize);
        let t0 = std::time::Instant::now();
        let embeds = m.embed(ids_tensor(&ids, &device));
        let g = generate(&m, text_input(embeds), &ids, &cfg, &stop, |t| {
            if stop.contains(&t) {
                return;
            }
            out.push(t);
            let s = tok.decode(&out);
            // Print only complete characters (a byte-level token may end mid-character).
            if !s.ends_with('\u{fffd}') {
                print!("{}", &s[shown.min(s.len())..]);
                let _ = std::io::stdout().flush();
                shown = s.len();
            }
        });
        println!();
        let secs = t0.elapsed().as_secs_f64();
        eprintln!(
            "{} tokens in {secs:.2}s ({:.1} tok/s)",
            g.tokens.len(),
            g.tokens.len() as f64 / secs
        );
        Ok(())
    }
}

/// Run `hico llm`.
pub fn run(c: Command, device: DeviceArg) -> Result<()> {
    dispatch(device, Generate(c))
}
