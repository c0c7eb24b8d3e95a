//! The step loop of one replica (the only one when training on one device).
//!
//! Positions `p` of a step's window of the shuffled order are split over the replicas by
//! `p % world`; each replica decodes its own positions in its loader threads, computes each
//! sample's loss scaled by `1 / samples_per_step` and accumulates gradients per trainable
//! part. Then, in this order on every replica: the step's statistics are summed (which also
//! tells every replica whether one hit a non-finite loss), each trainable part's gradients
//! are summed and applied with that part's learning rate, replica 0 writes metrics and
//! checkpoints, and the success of that is shared. With one replica the sums are identities.

use hico_backend::HicoAutodiff;
use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use burn::{
    optim::{GradientsAccumulator, GradientsParams, Optimizer},
    prelude::*,
    tensor::backend::AutodiffBackend,
};
use hico_core::Sampler;
use hico_llm::CausalLm;
use hico_model::{Pipeline, VideoLlm};
use hico_vision::{Connector, UmtEncoder};

use crate::{
    StageConfig, TrainError,
    checkpoint::{self, TrainState},
    data::Sample,
    export,
    forward::{Decoded, decode, sample_loss},
    loader::{DecodeFn, Loader},
    metrics::{MetricsLog, StepMetrics, bar_message, progress_bar},
    prepare::{Prepared, RunOptions, optimizer},
    replicas::{Replicas, share},
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

/// Gradients accumulated over a step, per trainable part.
struct PartGrads<B: AutodiffBackend> {
    encoder: GradientsAccumulator<UmtEncoder<B>>,
    connector: GradientsAccumulator<Connector<B>>,
    llm: GradientsAccumulator<CausalLm<B>>,
}

/// A step's statistics, summed over the replicas.
#[derive(Default)]
struct Totals {
    loss_sum: f32,
    samples: f32,
    tokens: f32,
    answer_tokens: f32,
    visual: f32,
    visual_kept: f32,
    skipped: f32,
    failed: f32,
}

impl Totals {
    /// Every field, in one fixed order (the order of the all-reduced vector).
    fn fields(&mut self) -> [&mut f32; 8] {
        [
            &mut self.loss_sum,
            &mut self.samples,
            &mut self.tokens,
            &mut self.answer_tokens,
            &mut self.visual,
            &mut self.visual_kept,
            &mut self.skipped,
            &mut self.failed,
        ]
    }

    fn sum<B: HicoAutodiff>(&mut self, replicas: &impl Replicas<B>) -> Result<(), TrainError> {
        let mut fields = self.fields();
        let mut v = fields.each_ref().map(|x| **x);
        replicas.sum(&mut v)?;
        for (x, total) in fields.iter_mut().zip(v) {
            **x = total;
        }
        Ok(())
    }
}

/// Run the stage's remaining steps as replica `replicas.rank()` starting from `model`;
/// replica 0 returns the outcome, the others `None`.
pub(crate) fn run_replica<B: HicoAutodiff>(
    prep: &Prepared,
    model: VideoLlm<B>,
    stage: &StageConfig,
    out_dir: &Path,
    device: &Device<B>,
    opts: &RunOptions,
    replicas: &impl Replicas<B>,
) -> Result<Option<TrainOutcome>, TrainError> {
    let (rank, world) = (replicas.rank(), replicas.world());
    let lead = rank == 0;
    let (samples, total, n) = (&prep.samples, prep.total, prep.samples.len());
    let mut state: TrainState = prep.state.clone();
    let resume = prep.resumed.is_some();
    let mut pipe = Pipeline::with_model(prep.cfg.clone(), model, prep.tokenizer.clone(), device);
    let mut optim = optimizer::<B>(stage);
    if let Some(dir) = &prep.resumed {
        optim = checkpoint::load_optim::<B, VideoLlm<B>, _>(optim, dir, device)?;
    }
    let ck_root = out_dir.join("checkpoints");
    let mut log = match lead {
        true => Some(MetricsLog::open(
            &out_dir.join("metrics.jsonl"),
            resume.then_some(state.step),
        )?),
        false => None,
    };
    let show = lead && opts.progress.unwrap_or(stage.checkpoint.progress);
    let bar = progress_bar(total, state.step, show, &stage.name);
    // Without a terminal (a log file, CI) the bar is hidden: print plain lines instead.
    let plain = show && !std::io::stderr().is_terminal();
    let started = Instant::now();
    let schedule = CosineSchedule::new(
        total,
        stage.optim.warmup_fraction,
        stage.optim.min_lr_fraction,
    );
    let cfg = &prep.cfg;
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
    let mut last_ck: Option<PathBuf> = prep.resumed.clone();

    while state.step < total {
        if state.position >= n {
            state.epoch += 1;
            state.position = 0;
            state.order_seed = state.rng.next_u64();
            loader = None;
        }
        let loader = loader.get_or_insert_with(|| {
            let order = TrainRng::new(state.order_seed).permutation(n);
            let mine: Vec<usize> = order.into_iter().skip(rank).step_by(world).collect();
            Loader::spawn(
                Arc::new(mine),
                share(0, state.position, rank, world),
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
        let mut t = Totals::default();
        let mut failure = None;
        let window = per_step.min(n - state.position);
        for _ in 0..share(state.position, state.position + window, rank, world) {
            let item = loader.next().expect("loader covers the epoch");
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
                    if let Err(e) = log_skip(out_dir, state.step + 1, sample, &reason) {
                        failure = Some(e);
                        t.failed = 1.0;
                        break;
                    }
                    t.skipped += 1.0;
                    continue;
                }
            };
            if !out.value.is_finite() {
                failure = Some(non_finite(state.step + 1, sample, out.value, &last_ck));
                t.failed = 1.0;
                break;
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
            t.loss_sum += out.value;
            t.tokens += out.tokens as f32;
            t.samples += 1.0;
            t.answer_tokens += out.answer_tokens as f32;
            t.visual += out.visual as f32;
            t.visual_kept += out.visual_kept as f32;
        }
        state.position += window;
        t.sum(replicas).map_err(at_step(state.step + 1))?;
        if t.failed > 0.0 {
            bar.abandon();
            return Err(failure.unwrap_or_else(|| {
                TrainError::Replica(format!(
                    "stopped at step {}: another replica failed (non-finite loss or unwritable skip log)",
                    state.step + 1
                ))
            }));
        }
        let skipped = state.skipped + t.skipped as usize;
        if let Some(max) = stage.data.max_skipped
            && skipped > max
        {
            // Every replica sees the same summed count and stops at the same step.
            bar.abandon();
            return Err(TrainError::Invalid(format!(
                "{skipped} samples skipped by step {}, more than data.max_skipped = {max}: see {}",
                state.step + 1,
                out_dir.join("skipped.jsonl").display()
            )));
        }
        let factor = schedule.factor(state.step);
        let mut m = StepMetrics {
            step: state.step + 1,
            epoch: state.epoch,
            loss: f32::NAN,
            lr: Default::default(),
            tokens_per_s: 0.0,
            answer_tokens: t.answer_tokens as usize,
            visual_tokens: t.visual as usize,
            visual_kept: t.visual_kept as usize,
            samples: t.samples as usize,
            skipped_total: 0,
        };
        for (name, lr) in &parts {
            m.lr.insert(name.to_string(), lr * factor);
        }
        if m.samples > 0 {
            let at = at_step(state.step + 1);
            pipe = pipe.map_model(|mut model| {
                for (name, lr) in &parts {
                    let grads = match *name {
                        "encoder" => replicas.sum_grads(acc.encoder.grads(), &model.encoder),
                        "connector" => replicas.sum_grads(acc.connector.grads(), &model.connector),
                        _ => replicas.sum_grads(acc.llm.grads(), &model.llm),
                    };
                    model = optim.step(lr * factor, model, grads.map_err(&at)?);
                }
                Ok::<_, TrainError>(model)
            })?;
            m.loss = t.loss_sum / t.samples;
        }
        state.step += 1;
        state.skipped += t.skipped as usize;
        m.skipped_total = state.skipped;
        m.tokens_per_s = f64::from(t.tokens) / t0.elapsed().as_secs_f64().max(1e-9);
        state.last_loss = m.loss;
        let stop = opts.stop_after == Some(state.step);
        let save = state.step.is_multiple_of(stage.checkpoint.every) || state.step == total || stop;
        // Replica 0 writes; every replica learns whether that worked before going on.
        let written = match &mut log {
            Some(log) if save => log.write(&m).and_then(|()| {
                checkpoint::save(&ck_root, &state, &pipe.model, &optim, stage.checkpoint.keep)
                    .map(|_| ())
            }),
            Some(log) => log.write(&m),
            None => Ok(()),
        };
        let mut failed = [f32::from(u8::from(written.is_err()))];
        replicas.sum(&mut failed).map_err(at_step(state.step))?;
        match written {
            Err(e) => {
                bar.abandon();
                return Err(e);
            }
            Ok(_) if failed[0] > 0.0 => {
                return Err(TrainError::Replica(format!(
                    "stopped at step {}: replica 0 could not write its metrics or checkpoint",
                    state.step
                )));
            }
            // Where replica 0 saved (every replica knows it, for its outcome).
            Ok(()) if save => last_ck = Some(ck_root.join(checkpoint::step_dir_name(state.step))),
            Ok(()) => {}
        }
        bar.set_position(state.step as u64);
        bar.set_message(bar_message(&m));
        if plain && (state.step.is_multiple_of((total / 20).max(1)) || state.step == total) {
            eprintln!(
                "{} step {}/{} ({:.0} s) {}",
                stage.name,
                state.step,
                total,
                started.elapsed().as_secs_f64(),
                bar_message(&m)
            );
        }
        if stop {
            bar.abandon();
            return Ok(lead.then(|| TrainOutcome {
                checkpoint: last_ck.expect("just saved"),
                steps: state.step,
                final_loss: state.last_loss,
                skipped_samples: state.skipped,
            }));
        }
    }
    bar.finish();
    if !lead {
        return Ok(None);
    }
    let final_dir = out_dir.join("final");
    export::write_final(&pipe, &final_dir)?;
    Ok(Some(TrainOutcome {
        checkpoint: final_dir,
        steps: state.step,
        final_loss: state.last_loss,
        skipped_samples: state.skipped,
    }))
}

/// Prefix a data-parallel error with the step it happened at.
fn at_step(step: usize) -> impl Fn(TrainError) -> TrainError {
    move |e| match e {
        TrainError::Replica(m) => TrainError::Replica(format!("step {step}: {m}")),
        e => e,
    }
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
