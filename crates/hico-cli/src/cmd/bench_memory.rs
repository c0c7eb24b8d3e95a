//! The memory rows of `hico bench`: the peak heap of one LLM training step with the output
//! head on every row or only on the target rows (`train-memory`), and the time and peak
//! memory of loading a Hugging Face checkpoint (`llm-load`, after `--write` made one).

use hico_backend::{HicoAutodiff, HicoBackend};
use std::{path::Path, time::Instant};

use anyhow::{Result, bail};
use burn::tensor::{Device, Int, Tensor, TensorData, activation::log_softmax};
use hico_llm::{CausalLm, ids_tensor, text_input};
use hico_weights::{SaveDtype, Saver, Weights};
use serde_json::json;

use crate::cmd::measure::{peak_heap_mib, peak_rss_mib, shape_config};

/// Which rows the output head of the training step is applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum HeadRows {
    /// Every row, then the target rows are selected (before the change).
    All,
    /// Only the target rows (what training does).
    Targets,
}

/// One forward + backward of a random LLM of `shape` (with `layers` decoder layers when
/// given) on `tokens` tokens, with a cross-entropy loss on the last `targets` positions.
pub fn train_memory<B: HicoAutodiff>(
    shape: &str,
    layers: Option<usize>,
    tokens: usize,
    targets: usize,
    head: HeadRows,
    device: &Device<B>,
) -> Result<()> {
    let mut spec = shape_config(shape)?;
    if let Some(l) = layers {
        spec.num_hidden_layers = l;
    }
    if targets == 0 || targets >= tokens {
        bail!("--targets {targets} must be in 1..{tokens}");
    }
    B::seed(device, 0);
    let model = CausalLm::<B>::random(&spec, device);
    let vocab = spec.vocab_size as u32;
    let ids: Vec<u32> = (0..tokens as u32).map(|i| (i * 7919) % vocab).collect();
    let at: Vec<usize> = (tokens - 1 - targets..tokens - 1).collect();
    let next: Vec<i64> = at.iter().map(|&p| i64::from(ids[p + 1])).collect();
    let next = Tensor::<B, 2, Int>::from_data(TensorData::new(next, [targets, 1]), device);
    let base = hico_backend::mem::reset();
    let t0 = Instant::now();
    let input = text_input(model.embed_ids(ids_tensor(&ids, device)));
    let logits = match head {
        HeadRows::Targets => model.forward_train(input, &at)?.logits,
        HeadRows::All => {
            let all = model.head(model.run(input, None).hidden); // [1, L, V]
            let rows: Vec<i64> = at.iter().map(|&p| p as i64).collect();
            let rows = Tensor::<B, 1, Int>::from_data(TensorData::new(rows, [targets]), device);
            all.reshape([tokens, spec.vocab_size]).select(0, rows)
        }
    };
    let loss = log_softmax(logits, 1).gather(1, next).mean().neg();
    let grads = loss.backward();
    drop(grads);
    let _ = B::sync(device);
    println!(
        "{}",
        json!({"check": "train_memory", "shape": shape, "layers": spec.num_hidden_layers,
               "vocab": spec.vocab_size, "tokens": tokens, "targets": targets,
               "head": format!("{head:?}").to_lowercase(),
               "step_s": t0.elapsed().as_secs_f64(), "peak_heap_mib": peak_heap_mib(&base),
               "peak_rss_mib": peak_rss_mib()})
    );
    Ok(())
}

/// `write`: save a random LLM of `shape` to `dir` in bf16 (as released checkpoints are).
/// Otherwise: load `dir` and report the time, the peak heap above the start and the model's
/// own size in f32.
pub fn llm_load<B: HicoBackend>(
    shape: &str,
    dir: &Path,
    write: bool,
    device: &Device<B>,
) -> Result<()> {
    let spec = shape_config(shape)?;
    if write {
        B::seed(device, 0);
        let mut model = CausalLm::<B>::random(&spec, device);
        let mut saver = Saver::new(SaveDtype::Bf16);
        model.walk("", &mut saver);
        let bytes = saver.bytes();
        saver.write_dir(dir, None)?;
        let mut cfg = spec.to_hf();
        cfg.insert("dtype".into(), "bfloat16".into());
        std::fs::write(dir.join("config.json"), serde_json::to_string_pretty(&cfg)?)?;
        println!(
            "{}",
            json!({"check": "llm_write", "shape": shape, "dir": dir, "bytes": bytes})
        );
        return Ok(());
    }
    let base = hico_backend::mem::reset();
    let t0 = Instant::now();
    let model = CausalLm::<B>::load_hf(dir, device)?;
    let _ = B::sync(device);
    let load_s = t0.elapsed().as_secs_f64();
    let params: usize = burn::module::Module::num_params(&model);
    println!(
        "{}",
        json!({"check": "llm_load", "shape": shape, "dir": dir, "load_s": load_s,
               "model_f32_mib": params as f64 * 4.0 / 1_048_576.0,
               "peak_heap_mib": peak_heap_mib(&base), "peak_rss_mib": peak_rss_mib()})
    );
    Ok(())
}
