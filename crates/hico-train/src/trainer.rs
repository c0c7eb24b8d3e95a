//! The training loop of one stage, generic over `B: AutodiffBackend` (the same code on the
//! CPU and on burn-cuda).
//!
//! A step consumes `batch_size · grad_accum` samples of the shuffled order, one forward and
//! backward per sample (sequence batch 1: sequences differ in length and visual count), each
//! sample's loss scaled by `1 / (batch_size · grad_accum)` and its gradients accumulated per
//! trainable part. Then one AdamW step per trainable part with that part's learning rate at
//! this step of the schedule. Frozen parts are marked `no_grad`: no gradient is computed
//! for them and the optimizer holds no state for them.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use burn::{
    optim::{
        AdamW, AdamWConfig, GradientsAccumulator, GradientsParams, Optimizer,
        adaptor::OptimizerAdaptor, grad_clipping::GradientClippingConfig,
    },
    prelude::*,
    tensor::backend::AutodiffBackend,
};
use hico_core::{Sampler, config::PipelineConfig};
use hico_llm::Qwen2;
use hico_model::{Pipeline, VideoLlm};
use hico_vision::{Connector, UmtEncoder};

use crate::{
    StageConfig, TrainError,
    checkpoint::{self, TrainState},
    data::{Sample, load_annotations},
    export,
    forward::{Decoded, decode, sample_loss},
    loader::{DecodeFn, Loader},
    metrics::{MetricsLog, StepMetrics, bar_message, progress_bar},
    rng::TrainRng,
    schedule::CosineSchedule,
};

/// What a finished (or stopped) stage left behind.
#[derive(Debug, Clone)]
pub struct TrainOutcome {
    /// The final model folder (`<out>/final`), or the last checkpoint when stopped early.
    pub checkpoint: PathBuf,
    /// Optimizer steps done.
    pub steps: usize,
    /// Loss of the last step.
    pub final_loss: f32,
    /// Samples skipped (unreadable or too long).
    pub skipped_samples: usize,
}

/// Knobs that are not part of a stage's science (tests, tools).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Return right after the checkpoint of this step (simulates an interruption).
    pub stop_after: Option<usize>,
    /// Override the stage's `checkpoint.progress`.
    pub progress: Option<bool>,
}

type Optim<B> = OptimizerAdaptor<AdamW, VideoLlm<B>, B>;

/// Gradients accumulated over a step, per trainable part.
struct PartGrads<B: AutodiffBackend> {
    encoder: GradientsAccumulator<UmtEncoder<B>>,
    connector: GradientsAccumulator<Connector<B>>,
    llm: GradientsAccumulator<Qwen2<B>>,
}

/// Train one stage; see [`run_stage_with`].
pub fn run_stage<B: AutodiffBackend>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
) -> Result<TrainOutcome, TrainError> {
    run_stage_with::<B>(
        pipeline,
        stage,
        init,
        out_dir,
        resume,
        device,
        &RunOptions::default(),
    )
}

/// Train one stage of `pipeline`: start from `init` (a previous stage's final folder or
/// checkpoint) or random weights, or with `resume` from `out_dir`'s latest checkpoint.
/// Writes `out_dir/{stage.json, pipeline.json, metrics.jsonl, checkpoints/, final/}`.
pub fn run_stage_with<B: AutodiffBackend>(
    pipeline: &PipelineConfig,
    stage: &StageConfig,
    init: Option<&Path>,
    out_dir: &Path,
    resume: bool,
    device: &Device<B>,
    opts: &RunOptions,
) -> Result<TrainOutcome, TrainError> {
    let cfg = stage.stage_pipeline(pipeline)?;
    let root = &stage.data.video_root;
    let samples = Arc::new(load_annotations(&stage.data.annotations, root)?);
    if samples.is_empty() {
        return Err(TrainError::Invalid(format!(
            "{}: no samples",
            stage.data.annotations.display()
        )));
    }
    let n = samples.len();
    let total = stage.total_steps(n);
    let ck_root = out_dir.join("checkpoints");
    std::fs::create_dir_all(out_dir).map_err(crate::error::io(out_dir))?;
    checkpoint::write_json(&out_dir.join("stage.json"), stage)?;
    checkpoint::write_json(&out_dir.join("pipeline.json"), &cfg)?;

    let mut pipe = Pipeline::<B>::new(cfg.clone(), device)
        .map_err(|e| TrainError::Model(format!("building {}: {e}", stage.pipeline.display())))?;
    // Draw lazily initialised weights now, from the config's seed (see `materialize`).
    B::seed(device, cfg.seed);
    checkpoint::materialize(&pipe.model);
    let mut optim: Optim<B> = AdamWConfig::new()
        .with_epsilon(1e-8)
        .with_weight_decay(stage.optim.weight_decay as f32)
        .with_grad_clipping(
            stage
                .optim
                .clip_norm
                .map(|c| GradientClippingConfig::Norm(c as f32)),
        )
        .init();
    let latest = checkpoint::latest(&ck_root)?;
    let mut state = match (resume, &latest) {
        (true, Some(dir)) => {
            pipe = with_model(pipe, |m| checkpoint::load_weights(m, dir, device))?;
            optim = checkpoint::load_optim::<B, VideoLlm<B>, _>(optim, dir, device)?;
            let st = checkpoint::load_state(dir)?;
            if st.total_steps != total {
                return Err(TrainError::Checkpoint {
                    path: dir.clone(),
                    message: format!(
                        "saved for a stage of {} steps, the stage now has {total}: the data or the config changed since",
                        st.total_steps
                    ),
                });
            }
            st
        }
        (false, Some(dir)) => {
            return Err(TrainError::Invalid(format!(
                "{} already holds checkpoints (latest {}): pass --resume or choose another output folder",
                out_dir.display(),
                dir.display()
            )));
        }
        (_, None) => {
            if let Some(init) = init {
                let dir = export::resolve_weights(init)?;
                pipe = with_model(pipe, |m| checkpoint::load_weights(m, &dir, device))?;
            }
            let mut rng = TrainRng::new(stage.seed);
            TrainState {
                stage: stage.name.clone(),
                step: 0,
                total_steps: total,
                epoch: 0,
                position: 0,
                order_seed: rng.next_u64(),
                rng,
                skipped: 0,
                last_loss: f32::NAN,
            }
        }
    };
    pipe = with_model(pipe, |m| Ok(freeze(m, stage)))?;
    let mut log = MetricsLog::open(&out_dir.join("metrics.jsonl"), resume.then_some(state.step))?;
    let show = opts.progress.unwrap_or(stage.checkpoint.progress);
    let bar = progress_bar(total, state.step, show, &stage.name);
    let schedule = CosineSchedule::new(
        total,
        stage.optim.warmup_fraction,
        stage.optim.min_lr_fraction,
    );
    let sampler: Arc<dyn Sampler> =
        Arc::from(hico_video::build_sampler(&cfg.sampler, cfg.video.clip_len));
    let (clip_len, size) = (cfg.video.clip_len, cfg.video.size);
    let decode_fn: DecodeFn<Decoded> = {
        let samples = samples.clone();
        Arc::new(move |i| decode(&samples[i], &sampler, clip_len, size))
    };
    let per_step = stage.samples_per_step();
    let parts = stage.lr.trainable();
    let mut loader: Option<Loader<Decoded>> = None;
    let mut last_ck: Option<PathBuf> = latest.filter(|_| resume);

    while state.step < total {
        if state.position >= n {
            state.epoch += 1;
            state.position = 0;
            state.order_seed = state.rng.next_u64();
            loader = None;
        }
        let loader = loader.get_or_insert_with(|| {
            let order = TrainRng::new(state.order_seed).permutation(n);
            Loader::spawn(
                Arc::new(order),
                state.position,
                stage.data.workers,
                stage.data.prefetch,
                decode_fn.clone(),
            )
        });
        B::seed(
            device,
            stage
                .seed
                .wrapping_mul(0x9E37_79B9)
                .wrapping_add(state.step as u64),
        );
        let t0 = Instant::now();
        let mut acc = PartGrads::<B> {
            encoder: GradientsAccumulator::new(),
            connector: GradientsAccumulator::new(),
            llm: GradientsAccumulator::new(),
        };
        let mut m = StepMetrics {
            step: state.step + 1,
            epoch: state.epoch,
            loss: 0.0,
            lr: Default::default(),
            tokens_per_s: 0.0,
            answer_tokens: 0,
            visual_tokens: 0,
            visual_kept: 0,
            samples: 0,
            skipped_total: 0,
        };
        let (mut loss_sum, mut tokens) = (0f64, 0usize);
        for _ in 0..per_step.min(n - state.position) {
            let item = loader.next().expect("loader covers the epoch");
            state.position += 1;
            let sample = &samples[item.sample];
            let out = item.result.and_then(|d| {
                sample_loss(&pipe, sample, &d, stage.max_length, stage.visual_dropout)
            });
            let out = match out {
                Ok(Some(out)) => out,
                Ok(None) | Err(_) => {
                    let reason = out.err().unwrap_or_else(|| {
                        format!("first turn longer than max_length {}", stage.max_length)
                    });
                    log_skip(out_dir, state.step + 1, sample, &reason)?;
                    state.skipped += 1;
                    continue;
                }
            };
            if !out.value.is_finite() {
                bar.abandon();
                return Err(non_finite(state.step + 1, sample, out.value, &last_ck));
            }
            let mut grads = (out.loss / per_step as f32).backward();
            let model = &pipe.model;
            if stage.lr.encoder.is_some() {
                let g = GradientsParams::from_module(&mut grads, &model.encoder);
                acc.encoder.accumulate(&model.encoder, g);
            }
            if stage.lr.connector.is_some() {
                let g = GradientsParams::from_module(&mut grads, &model.connector);
                acc.connector.accumulate(&model.connector, g);
            }
            if stage.lr.llm.is_some() {
                let g = GradientsParams::from_module(&mut grads, &model.llm);
                acc.llm.accumulate(&model.llm, g);
            }
            loss_sum += f64::from(out.value);
            tokens += out.tokens;
            m.samples += 1;
            m.answer_tokens += out.answer_tokens;
            m.visual_tokens += out.visual;
            m.visual_kept += out.visual_kept;
        }
        let factor = schedule.factor(state.step);
        for (name, lr) in &parts {
            m.lr.insert(name.to_string(), lr * factor);
        }
        if m.samples > 0 {
            pipe = with_model(pipe, |mut model| {
                for (name, lr) in &parts {
                    let grads = match *name {
                        "encoder" => acc.encoder.grads(),
                        "connector" => acc.connector.grads(),
                        _ => acc.llm.grads(),
                    };
                    model = optim.step(lr * factor, model, grads);
                }
                Ok(model)
            })?;
        }
        state.step += 1;
        m.loss = if m.samples > 0 {
            (loss_sum / m.samples as f64) as f32
        } else {
            f32::NAN
        };
        m.skipped_total = state.skipped;
        m.tokens_per_s = tokens as f64 / t0.elapsed().as_secs_f64().max(1e-9);
        state.last_loss = m.loss;
        log.write(&m)?;
        bar.set_position(state.step as u64);
        bar.set_message(bar_message(&m));
        let stop = opts.stop_after == Some(state.step);
        if state.step % stage.checkpoint.every == 0 || state.step == total || stop {
            last_ck = Some(checkpoint::save(
                &ck_root,
                &state,
                &pipe.model,
                &optim,
                stage.checkpoint.keep,
            )?);
        }
        if stop {
            bar.abandon();
            return Ok(TrainOutcome {
                checkpoint: last_ck.expect("just saved"),
                steps: state.step,
                final_loss: state.last_loss,
                skipped_samples: state.skipped,
            });
        }
    }
    bar.finish();
    let final_dir = out_dir.join("final");
    export::write_final(&pipe, &final_dir)?;
    Ok(TrainOutcome {
        checkpoint: final_dir,
        steps: state.step,
        final_loss: state.last_loss,
        skipped_samples: state.skipped,
    })
}

/// Mark the parts the stage does not train as `no_grad`.
fn freeze<B: AutodiffBackend>(mut m: VideoLlm<B>, stage: &StageConfig) -> VideoLlm<B> {
    if stage.lr.encoder.is_none() {
        m.encoder = m.encoder.no_grad();
    }
    if stage.lr.connector.is_none() {
        m.connector = m.connector.no_grad();
    }
    if stage.lr.llm.is_none() {
        m.llm = m.llm.no_grad();
    }
    m
}

/// Replace a pipeline's weights by a function of them (the optimizer consumes the model).
pub(crate) fn with_model<B: Backend>(
    pipe: Pipeline<B>,
    f: impl FnOnce(VideoLlm<B>) -> Result<VideoLlm<B>, TrainError>,
) -> Result<Pipeline<B>, TrainError> {
    let Pipeline {
        cfg,
        model,
        sampler,
        compressor,
        schedule,
        tokenizer,
        device,
    } = pipe;
    Ok(Pipeline {
        model: f(model)?,
        cfg,
        sampler,
        compressor,
        schedule,
        tokenizer,
        device,
    })
}

/// Append why a sample was skipped to `<out>/skipped.jsonl`.
fn log_skip(out_dir: &Path, step: usize, sample: &Sample, reason: &str) -> Result<(), TrainError> {
    use std::io::Write;
    let path = out_dir.join("skipped.jsonl");
    let line = serde_json::json!({"step": step, "sample": sample.describe(), "reason": reason});
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| writeln!(f, "{line}"))
        .map_err(crate::error::io(&path))
}

fn non_finite(step: usize, sample: &Sample, loss: f32, last: &Option<PathBuf>) -> TrainError {
    TrainError::NonFinite {
        step,
        sample: sample.describe(),
        loss,
        last_checkpoint: last
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "none".into()),
    }
}
