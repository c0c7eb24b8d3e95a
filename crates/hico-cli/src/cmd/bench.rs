//! `hico bench`: timings and peak memory of the model stages, printed as JSON lines so that
//! scripts can put them side by side with their references (`benches/torch_llm_bench.py`,
//! `scripts/long_video_bench.sh`, `scripts/gpu-check.sh`). Numbers, never assertions.

use hico_backend::{HicoAutodiff, HicoBackend};
use std::{path::PathBuf, time::Instant};

use anyhow::{Context, Result};
use burn::tensor::{Device, Distribution, Tensor, backend::AutodiffBackend, backend::Backend};
use hico_core::{FramePlan, LanguageModel, VideoInfo, config::SamplerConfig};
use hico_llm::{AttentionOptions, CausalLm, ids_tensor, text_input};
use hico_model::Pipeline;
use serde_json::json;

use crate::backend::{DeviceArg, Job, Precision, dispatch_with};
use crate::cmd::measure::{hico_impl, median, peak_rss_mib, shape_config};

/// `hico bench` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Prefill and per-token decode of a randomly initialised LLM of a released shape.
    Llm {
        /// Shape: qwen2_5_0_5b, qwen2_5_1_5b or small.
        #[arg(long, default_value = "qwen2_5_0_5b")]
        shape: String,
        /// Prefill lengths, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "512,2048")]
        prefill: Vec<usize>,
        /// Decode steps timed after each prefill.
        #[arg(long, default_value_t = 16)]
        decode: usize,
        /// Timed repetitions (after one warm-up); the median is printed.
        #[arg(long, default_value_t = 3)]
        reps: usize,
        /// Float precision.
        #[arg(long, value_enum, default_value = "f32")]
        precision: Precision,
    },
    /// Parity of the LLM with the transformers fixtures on this device: max |Δlogit| and
    /// whether the greedy continuation matches, per fixture model.
    Parity {
        /// Directory of `scripts/make_llm_fixtures.py`'s output.
        #[arg(long, default_value = "crates/hico-llm/tests/fixtures")]
        dir: PathBuf,
        /// Float precision.
        #[arg(long, value_enum, default_value = "f32")]
        precision: Precision,
    },
    /// Training steps of the full model (encoder → compressor → connector → LLM) on random
    /// frames with a next-token loss on the prompt after the video: forward, backward, AdamW.
    TrainStep {
        /// Pipeline config.
        #[arg(long)]
        config: PathBuf,
        /// Frames per sample (a multiple of the clip length).
        #[arg(long, default_value_t = 8)]
        frames: usize,
        /// Timed steps (after one warm-up).
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// Float precision.
        #[arg(long, value_enum, default_value = "f32")]
        precision: Precision,
    },
    /// Peak heap of one LLM training step (forward, cross entropy on the last `--targets`
    /// positions, backward) with the output head on every row or on the target rows only.
    TrainMemory {
        /// Shape: qwen2_5_0_5b, qwen2_5_1_5b or small.
        #[arg(long, default_value = "qwen2_5_0_5b")]
        shape: String,
        /// Decoder layers instead of the shape's (the head's share does not depend on it).
        #[arg(long)]
        layers: Option<usize>,
        /// Tokens of the sample.
        #[arg(long, default_value_t = 4096)]
        tokens: usize,
        /// Target positions (an answer at the end of the sample).
        #[arg(long, default_value_t = 64)]
        targets: usize,
        /// Rows the head runs on.
        #[arg(long, value_enum, default_value = "targets")]
        head: crate::cmd::bench_memory::HeadRows,
    },
    /// Time and peak memory of loading a Hugging Face LLM directory (`--write` first makes a
    /// random bf16 one of `--shape` there).
    LlmLoad {
        /// Shape: qwen2_5_0_5b, qwen2_5_1_5b or small.
        #[arg(long, default_value = "qwen2_5_0_5b")]
        shape: String,
        /// The directory.
        #[arg(long)]
        dir: PathBuf,
        /// Write the checkpoint instead of loading it.
        #[arg(long)]
        write: bool,
    },
    /// The whole inference path on a long video: clips streamed through encoder and
    /// compressor, then prefill and one decode step. Prints time and peak memory.
    LongVideo {
        /// Pipeline config; its sampler is replaced by `uniform` with `--frames`.
        #[arg(long)]
        config: PathBuf,
        /// Frames to sample.
        #[arg(long)]
        frames: usize,
        /// A real video to decode; without it, frames are random pixels (no decoding).
        #[arg(long)]
        video: Option<PathBuf>,
        /// Float precision.
        #[arg(long, value_enum, default_value = "f32")]
        precision: Precision,
    },
}

/// Run `hico bench`.
pub fn run(c: Command, device: DeviceArg) -> Result<()> {
    let precision = match &c {
        Command::Llm { precision, .. }
        | Command::Parity { precision, .. }
        | Command::TrainStep { precision, .. }
        | Command::LongVideo { precision, .. } => *precision,
        Command::TrainMemory { .. } | Command::LlmLoad { .. } => Precision::F32,
    };
    dispatch_with(device, precision, BenchJob { cmd: c, device })
}

struct BenchJob {
    cmd: Command,
    device: DeviceArg,
}

fn sync<B: HicoBackend>(device: &Device<B>) {
    let _ = B::sync(device);
}

impl Job for BenchJob {
    type Output = ();

    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        // Timed as `hico run`, training and scoring run: on a worker of rayon's pool
        // (`on_worker`), where each op splits its work in place.
        hico_backend::on_worker(move || self.measure::<B>(device))
    }
}

impl BenchJob {
    fn measure<B: HicoAutodiff>(self, device: Device<B>) -> Result<()> {
        type I<B> = <B as AutodiffBackend>::InnerBackend;
        let dev_name = format!("{:?}", self.device).to_lowercase();
        match self.cmd {
            Command::Llm {
                shape,
                prefill,
                decode,
                reps,
                precision,
            } => {
                let cfg = shape_config(&shape)?;
                I::<B>::seed(&device, 0);
                let model = CausalLm::<I<B>>::random(&cfg, &device)
                    .with_attention(AttentionOptions::from_env());
                for n in prefill {
                    let ids: Vec<u32> = (0..n as u32)
                        .map(|i| (i * 7919) % cfg.vocab_size as u32)
                        .collect();
                    let (mut pre, mut dec) = (Vec::new(), Vec::new());
                    for rep in 0..=reps {
                        let embeds = model.embed_ids(ids_tensor(&ids, &device));
                        sync::<I<B>>(&device);
                        let t0 = Instant::now();
                        let (out, mut cache) = model.prefill(text_input(embeds));
                        let _ = out.last_logits.into_data();
                        let t_pre = t0.elapsed().as_secs_f64();
                        let t0 = Instant::now();
                        for s in 0..decode {
                            let logits = model.decode_step((s as u32 * 31) % 1000, &mut cache);
                            let _ = logits.into_data();
                        }
                        let t_dec = t0.elapsed().as_secs_f64() / decode.max(1) as f64;
                        if rep > 0 {
                            pre.push(t_pre);
                            dec.push(t_dec);
                        }
                    }
                    println!(
                        "{}",
                        json!({"impl": hico_impl(), "shape": shape, "dtype": format!("{precision:?}").to_lowercase(),
                               "device": dev_name, "prefill": n, "prefill_ms": 1e3 * median(pre),
                               "decode_ms": 1e3 * median(dec), "peak_rss_mib": peak_rss_mib()})
                    );
                }
            }
            Command::Parity { dir, precision } => {
                crate::cmd::bench_extra::parity::<I<B>>(&dir, &dev_name, precision, &device)?
            }
            Command::TrainStep {
                config,
                frames,
                steps,
                precision,
            } => crate::cmd::bench_extra::train_step::<B>(
                &config, frames, steps, &dev_name, precision, &device,
            )?,
            Command::TrainMemory {
                shape,
                layers,
                tokens,
                targets,
                head,
            } => crate::cmd::bench_memory::train_memory::<B>(
                &shape, layers, tokens, targets, head, &device,
            )?,
            Command::LlmLoad { shape, dir, write } => {
                crate::cmd::bench_memory::llm_load::<I<B>>(&shape, &dir, write, &device)?
            }
            Command::LongVideo {
                config,
                frames,
                video,
                precision,
            } => {
                let mut cfg = hico_model::load_config(&config)?;
                cfg.sampler = SamplerConfig::Uniform { frames };
                hico_model::validate_config(&cfg, &config)?;
                let pipe = Pipeline::<I<B>>::new(cfg.clone(), &device)?;
                let heap0 = hico_backend::mem::reset();
                let t0 = Instant::now();
                let encoded = match &video {
                    Some(v) => pipe
                        .encode_video(v, None)
                        .with_context(|| v.display().to_string())?,
                    None => {
                        let fps = 1.0;
                        let info = VideoInfo {
                            n_frames: frames,
                            fps,
                            duration: frames as f64,
                            width: 0,
                            height: 0,
                        };
                        let plan = FramePlan {
                            indices: (0..frames).collect(),
                            timestamps: (0..frames).map(|i| i as f64).collect(),
                            duration: frames as f64,
                        };
                        let s = cfg.video.size;
                        pipe.encode_frames(info, plan, None, |idx| {
                            Ok(Tensor::random(
                                [idx.len(), 3, s, s],
                                Distribution::Normal(0.0, 1.0),
                                &device,
                            ))
                        })?
                    }
                };
                sync::<I<B>>(&device);
                let t_encode = t0.elapsed().as_secs_f64();
                let heap_encode = hico_backend::mem::stats();
                hico_backend::mem::reset();
                let t0 = Instant::now();
                let out = pipe.answer(&encoded, "What happens in the video?", vec![], |_| {})?;
                let t_answer = t0.elapsed().as_secs_f64();
                let heap_answer = hico_backend::mem::stats();
                // Heap above the loaded weights, per stage (null without the counting
                // allocator, e.g. when this runs as a library).
                let heap_mib = |s: hico_backend::mem::HeapStats| {
                    hico_backend::mem::tracking().then(|| s.peak_above(&heap0) as f64 / 1048576.0)
                };
                println!(
                    "{}",
                    json!({"impl": hico_impl(), "config": config, "frames": frames, "device": dev_name,
                           "dtype": format!("{precision:?}").to_lowercase(),
                           "visual_tokens": out.counts.compressed_tokens,
                           "seq_len_layer1": out.counts.seq_len_per_layer.first(),
                           "encode_s": t_encode, "prefill_and_decode_s": t_answer,
                           "kv_cache_mib": out.ledger.total_kv_bytes / 1048576.0,
                           "prefill_gflop": out.ledger.total_flops / 1e9,
                           "encode_peak_heap_mib": heap_mib(heap_encode),
                           "answer_peak_heap_mib": heap_mib(heap_answer),
                           "peak_rss_mib": peak_rss_mib()})
                );
            }
        }
        Ok(())
    }
}
