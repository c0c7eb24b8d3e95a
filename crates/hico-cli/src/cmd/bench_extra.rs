//! The parts of `hico bench` that check a device rather than time a stage alone: LLM
//! parity against the transformers fixtures, and full-model training steps.

use hico_backend::{HicoAutodiff, HicoBackend};
use std::{path::Path, time::Instant};

use anyhow::{Context, Result};
use burn::{
    nn::loss::CrossEntropyLossConfig,
    optim::{AdamWConfig, GradientsParams, Optimizer},
    tensor::{Device, Distribution, Int, Tensor, TensorData},
};
use hico_core::{LanguageModel, config::SamplerConfig};
use hico_llm::{AttentionOptions, CausalLm, ids_tensor, text_input};
use hico_model::Pipeline;
use serde_json::{Value, json};

use crate::backend::Precision;

fn ids_of(v: &Value) -> Vec<u32> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .map(|x| x as u32)
                .collect()
        })
        .unwrap_or_default()
}

/// Compare logits and greedy continuations with each `<name>.json` beside a `<name>/` HF dir.
pub fn parity<B: HicoBackend>(
    dir: &Path,
    dev: &str,
    precision: Precision,
    device: &Device<B>,
) -> Result<()> {
    for name in ["tied", "untied", "gqa", "llama3", "llama_tied", "qwen3"] {
        let path = dir.join(format!("{name}.json"));
        let rec: Value = serde_json::from_str(
            &std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?;
        let model = CausalLm::<B>::load_hf(&dir.join(name), device)?
            .with_attention(AttentionOptions::from_env());
        let prompts = rec["prompts"]
            .as_array()
            .context("fixture without prompts")?;
        let (mut max_diff, mut greedy_ok) = (0f32, true);
        for (i, p) in prompts.iter().enumerate() {
            let ids = ids_of(p);
            let got: Vec<f32> = model
                .forward_ids(&ids)
                .into_data()
                .convert::<f32>()
                .to_vec()
                .unwrap_or_default();
            let want: Vec<f32> = rec["logits"][i]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|row| row.as_array().cloned().unwrap_or_default())
                .filter_map(|x| x.as_f64())
                .map(|x| x as f32)
                .collect();
            anyhow::ensure!(
                got.len() == want.len(),
                "{name} prompt {i}: {} logits vs {}",
                got.len(),
                want.len()
            );
            max_diff = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(max_diff, f32::max);
            let greedy = ids_of(&rec["greedy"][i]);
            let cfg = hico_core::config::GenerationConfig {
                max_new_tokens: greedy.len(),
                ..Default::default()
            };
            let g = hico_llm::generate(
                &model,
                text_input(model.embed(ids_tensor(&ids, device))),
                &ids,
                &cfg,
                &[],
                |_| {},
            );
            greedy_ok &= g.tokens == greedy;
        }
        println!(
            "{}",
            json!({"check": "llm_parity", "impl": crate::cmd::measure::hico_impl(), "model": name, "device": dev, "dtype": format!("{precision:?}").to_lowercase(),
                   "max_abs_logit_diff": max_diff, "greedy_match": greedy_ok})
        );
    }
    Ok(())
}

/// Time full-model training steps on random frames.
pub fn train_step<B: HicoAutodiff>(
    config: &Path,
    frames: usize,
    steps: usize,
    dev: &str,
    precision: Precision,
    device: &Device<B>,
) -> Result<()> {
    let mut cfg = hico_model::load_config(config)?;
    cfg.sampler = SamplerConfig::Uniform { frames };
    hico_model::validate_config(&cfg, config)?;
    let pipe = Pipeline::<B>::new(cfg.clone(), device)?;
    let (l, s) = (cfg.video.clip_len, cfg.video.size);
    let plan = hico_core::FramePlan {
        indices: (0..frames).collect(),
        timestamps: (0..frames).map(|i| i as f64).collect(),
        duration: frames as f64,
    };
    let prompt = pipe.prompt(
        &plan,
        "What happens in the video? Describe every scene in detail.",
    );
    let mut model = pipe.model.clone();
    let mut optim = AdamWConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let mut times = Vec::new();
    let mut last_loss = f32::NAN;
    for step in 0..=steps {
        let t0 = Instant::now();
        let clips = Tensor::<B, 5>::random(
            [frames / l, l, 3, s, s],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        let v = model.visual_embeds(clips, &*pipe.compressor, 0);
        let n_visual = v.tokens.len();
        let (b, a) = (prompt.before.len(), prompt.after.len());
        let input = hico_core::PrefillInput {
            embeds: Tensor::cat(
                vec![
                    model.llm.embed(ids_tensor(&prompt.before, device)),
                    v.embeds.unsqueeze::<3>(),
                    model.llm.embed(ids_tensor(&prompt.after, device)),
                ],
                1,
            ),
            visual_start: b,
            visual_len: n_visual,
            plan: pipe.schedule.plan(model.llm.shape().layers, n_visual),
            queries: vec![b + n_visual + a - 1],
            capture_layers: vec![],
            frames: None,
            kv_cache: Default::default(),
        };
        // Predict every prompt token after the video from the one before it.
        let n = prompt.after.len() - 1;
        let total = b + n_visual + a;
        let at: Vec<usize> = (total - 1 - n..total - 1).collect();
        let pred = model.llm.forward_train(input, &at)?.logits; // [n, V]
        let targets: Vec<i64> = prompt.after[1..].iter().map(|&t| t as i64).collect();
        let targets = Tensor::<B, 1, Int>::from_data(TensorData::new(targets, [n]), device);
        let loss = loss_fn.forward(pred, targets);
        last_loss = loss.clone().into_scalar().elem_f32();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-4, model, grads);
        let _ = B::sync(device);
        if step > 0 {
            times.push(t0.elapsed().as_secs_f64());
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{}",
        json!({"check": "train_step", "config": config, "frames": frames, "device": dev,
               "dtype": format!("{precision:?}").to_lowercase(), "step_s": times.get(times.len() / 2),
               "loss": last_loss, "peak_rss_mib": crate::cmd::measure::peak_rss_mib()})
    );
    Ok(())
}

trait ElemF32 {
    fn elem_f32(self) -> f32;
}
impl<E: burn::tensor::ElementConversion> ElemF32 for E {
    fn elem_f32(self) -> f32 {
        self.elem()
    }
}
