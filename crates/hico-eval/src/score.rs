//! Scoring a pipeline on a built set: teacher-forced comparison of the option letters (the
//! reference's rule: the logits of `A`, `B`, `C`, `D` at the last prompt position, after a
//! prompt that ends with the options and the answer instruction), plus free-form exact
//! match of the generated answer; accuracy per (needle depth, haystack length). A question
//! that cannot be scored (unreadable video, a panic on that input) is skipped, logged to
//! `skipped.jsonl` and counted as wrong ([`crate::skip`]).

use hico_backend::HicoBackend;
use std::{
    panic::{AssertUnwindSafe, catch_unwind},
    path::Path,
    time::Instant,
};

use hico_core::{LanguageModel, ledger::ledger};
use hico_model::{Pipeline, RunOutput};
use indicatif::ProgressBar;
use serde::{Deserialize, Serialize};

use crate::{
    EvalError,
    bench::{LETTERS, Manifest, Sample},
    skip::{SkipLog, Skipped},
};

/// What to score besides the letter logits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoreOptions {
    /// Also generate an answer for every sample and check it by exact match.
    pub free_form: bool,
    /// Capture attention at every layer in the first question's run record (the one
    /// returned as [`SetScore::first_run`]).
    pub capture_all_layers: bool,
    /// Most questions that may be skipped (unreadable) before scoring stops with an error;
    /// `None`: a tenth of the set ([`crate::skip::default_limit`]).
    pub max_skipped: Option<usize>,
}

/// The score of one question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleScore {
    /// Sample id.
    pub id: String,
    /// Haystack length in frames.
    pub frames: usize,
    /// Needle depth.
    pub depth: f64,
    /// Correct letter.
    pub answer: String,
    /// Letter with the highest logit.
    pub predicted: String,
    /// `predicted == answer`.
    pub correct: bool,
    /// Logits of `A`..`D` at the last prompt position.
    pub letter_logits: [f32; 4],
    /// Generated answer (when free-form scoring is on).
    pub generated: Option<String>,
    /// Exact match of the generated answer (letter, option text or `X. text`).
    pub exact_match: Option<bool>,
    /// Frames the sampler chose.
    pub sampled_frames: usize,
    /// Visual tokens entering the LLM.
    pub visual_tokens: usize,
    /// Visual tokens at each decoder layer's input.
    pub visual_per_layer: Vec<usize>,
    /// Prefill FLOPs (analytic ledger).
    pub prefill_flops: f64,
    /// KV-cache bytes after the prefill (f32).
    pub kv_bytes: f64,
    /// Wall-clock seconds (decode, encode, prefill and generation).
    pub seconds: f64,
    /// Wall-clock seconds of decoding and encoding the video (sampler, vision encoder, clip
    /// compressor, connector).
    #[serde(default)]
    pub encode_seconds: f64,
    /// Wall-clock seconds of the `[video_compressor]` slot (the question's embeddings, the
    /// method's plan and its application; 0 for `none`).
    #[serde(default)]
    pub slot_seconds: f64,
    /// Wall-clock seconds of the LLM prefill: from the prompt's assembly to the last
    /// position's logits read back to the host (in-LLM methods such as `framefusion` and
    /// dropout act inside it).
    #[serde(default)]
    pub prefill_seconds: f64,
}

/// Accuracy of one (depth, haystack length) cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DepthAccuracy {
    /// Needle depth.
    pub depth: f64,
    /// Haystack length in frames.
    pub frames: usize,
    /// Questions in the cell.
    pub n: usize,
    /// Fraction answered correctly by letter logits.
    pub accuracy: f64,
}

/// The score of a whole set.
#[derive(Debug, Clone, Serialize)]
pub struct SetScore {
    /// Per scored question.
    pub samples: Vec<SampleScore>,
    /// Questions that could not be scored (counted as wrong in every accuracy).
    pub skipped: Vec<Skipped>,
    /// Fraction correct by letter logits, over all questions (skipped ones count as wrong).
    pub accuracy: f64,
    /// Fraction correct by exact match (when generated; skipped questions count as wrong).
    pub exact_match: Option<f64>,
    /// Per (depth, frames), sorted by frames then depth.
    pub by_depth: Vec<DepthAccuracy>,
    /// How often each letter was predicted (`A`..`D`).
    pub predicted_counts: [usize; 4],
    /// The first scored sample's full run record (retention, ledger, provenance, attention).
    #[serde(skip)]
    pub first_run: Option<RunOutput>,
}

/// Token ids of the four option letters in `pipe`'s tokenizer.
pub fn letter_ids<B: HicoBackend>(pipe: &Pipeline<B>) -> Result<[u32; 4], EvalError> {
    let mut ids = [0u32; 4];
    for (k, l) in LETTERS.iter().enumerate() {
        match pipe.tokenizer.encode(l).as_slice() {
            [id] => ids[k] = *id,
            other => {
                return Err(EvalError::Model {
                    sample: "<tokenizer>".into(),
                    message: format!("option letter {l:?} is not one token: {other:?}"),
                });
            }
        }
    }
    Ok(ids)
}

/// Whether a generated answer matches: the letter, the option text, or `X. text`
/// (case-insensitive, surrounding spaces and a trailing period ignored).
pub fn exact_match(generated: &str, sample: &Sample) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('.').trim().to_uppercase();
    let g = norm(generated);
    g == norm(&sample.answer)
        || g == norm(&sample.answer_text)
        || g == norm(&format!("{}. {}", sample.answer, sample.answer_text))
}

/// Score one question of the set in `dir`. Returns the score and, when `record` is set,
/// the full run record (from generation, with attention captured at every layer if asked).
pub fn score_sample<B: HicoBackend>(
    pipe: &Pipeline<B>,
    dir: &Path,
    sample: &Sample,
    letters: [u32; 4],
    opts: ScoreOptions,
    record: bool,
) -> Result<(SampleScore, Option<RunOutput>), EvalError> {
    let model_err = |message: String| EvalError::Model {
        sample: sample.id.clone(),
        message,
    };
    let t0 = Instant::now();
    let encoded = pipe
        .encode_video(&dir.join(&sample.video), None)
        .map_err(|e| model_err(e.to_string()))?;
    // The encoder's output on the host before the clock moves on (a lazy backend would
    // otherwise bill the encoder to the slot or the prefill).
    let _ = encoded.embeds.clone().into_data();
    let t_encoded = Instant::now();
    let video = pipe
        .compress_video(&encoded, &sample.question)
        .map_err(|e| model_err(e.to_string()))?;
    let _ = video.embeds.clone().into_data();
    let t_slot = Instant::now();
    let pre = pipe
        .prefill(&video, &sample.question, Vec::new())
        .map_err(|e| model_err(e.to_string()))?;
    let logits: Vec<f32> = pre.last_logits.into_data().iter::<f32>().collect();
    let t_prefill = Instant::now();
    let letter_logits = letters.map(|id| logits.get(id as usize).copied().unwrap_or(f32::MIN));
    let best = (0..4).fold(0, |b, k| {
        if letter_logits[k] > letter_logits[b] {
            k
        } else {
            b
        }
    });
    let predicted = LETTERS[best].to_string();
    let shape = pipe.model.llm.shape();
    let cost = ledger(&shape, &pre.seq_lens, 4);
    let run = (opts.free_form || record)
        .then(|| {
            let capture = if record && opts.capture_all_layers {
                (1..=shape.layers).collect()
            } else {
                Vec::new()
            };
            pipe.answer(&video, &sample.question, capture, |_| {})
        })
        .transpose()
        .map_err(|e| model_err(e.to_string()))?;
    // The answer without its stop token (`<|im_end|>`).
    let stop = pipe.tokenizer.stop_ids();
    let generated = opts.free_form.then(|| {
        run.as_ref()
            .map(|r| {
                let ids: Vec<u32> = r
                    .answer_tokens
                    .iter()
                    .copied()
                    .filter(|t| !stop.contains(t))
                    .collect();
                pipe.tokenizer.decode(&ids)
            })
            .unwrap_or_default()
    });
    let score = SampleScore {
        id: sample.id.clone(),
        frames: sample.frames,
        depth: sample.depth,
        correct: predicted == sample.answer,
        answer: sample.answer.clone(),
        predicted,
        letter_logits,
        exact_match: generated.as_deref().map(|g| exact_match(g, sample)),
        generated,
        sampled_frames: video.plan.len(),
        visual_tokens: video.embeds.dims()[0],
        visual_per_layer: pre.trace.counts(),
        prefill_flops: cost.total_flops,
        kv_bytes: cost.total_kv_bytes,
        seconds: t0.elapsed().as_secs_f64(),
        encode_seconds: (t_encoded - t0).as_secs_f64(),
        slot_seconds: (t_slot - t_encoded).as_secs_f64(),
        prefill_seconds: (t_prefill - t_slot).as_secs_f64(),
    };
    Ok((score, if record { run } else { None }))
}

/// Score every question of the set in `dir` (its manifest already loaded). A question
/// that fails (error or panic) is skipped: logged to `out/skipped.jsonl` when `out` is
/// given, counted as wrong; more than `opts.max_skipped` skips stop with
/// [`EvalError::TooManySkipped`].
///
/// The questions run on a worker of rayon's pool ([`hico_backend::on_worker`]: 14-17 %
/// less time per ablation cell on two cores, the same answers; docs/performance.md).
pub fn score_set<B: HicoBackend>(
    pipe: &Pipeline<B>,
    dir: &Path,
    manifest: &Manifest,
    opts: ScoreOptions,
    out: Option<&Path>,
    progress: Option<&ProgressBar>,
) -> Result<SetScore, EvalError> {
    hico_backend::on_worker(|| score_set_here(pipe, dir, manifest, opts, out, progress))
}

/// [`score_set`] on the calling thread.
fn score_set_here<B: HicoBackend>(
    pipe: &Pipeline<B>,
    dir: &Path,
    manifest: &Manifest,
    opts: ScoreOptions,
    out: Option<&Path>,
    progress: Option<&ProgressBar>,
) -> Result<SetScore, EvalError> {
    let letters = letter_ids(pipe)?;
    let n = manifest.samples.len();
    let log = SkipLog::in_dir(out, n, opts.max_skipped)?;
    if let Some(pb) = progress {
        pb.set_length(n as u64);
        pb.set_position(0);
    }
    let mut samples = Vec::with_capacity(n);
    let mut skipped = Vec::new();
    let mut first_run = None;
    for s in &manifest.samples {
        // The first question that scores gives the run record.
        let record = samples.is_empty();
        let result = catch_unwind(AssertUnwindSafe(|| {
            score_sample(pipe, dir, s, letters, opts, record)
        }));
        let reason = match result {
            Ok(Ok((score, run))) => {
                if record {
                    first_run = run;
                }
                samples.push(score);
                None
            }
            Ok(Err(e)) => Some(e.to_string()),
            Err(panic) => Some(format!("panicked: {}", panic_message(&panic))),
        };
        if let Some(reason) = reason {
            let skip = Skipped {
                id: s.id.clone(),
                video: s.video.clone(),
                reason,
            };
            skipped.push(skip.clone());
            log.record(&skip, skipped.len(), n)?;
        }
        if let Some(pb) = progress {
            pb.inc(1);
        }
    }
    Ok(aggregate(samples, skipped, manifest, first_run))
}

/// The message of a caught panic.
pub(crate) fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

/// Accuracy overall and per (depth, frames) from per-question scores; each question of
/// `skipped` (found in `manifest` for its depth and length) counts as wrong.
pub fn aggregate(
    samples: Vec<SampleScore>,
    skipped: Vec<Skipped>,
    manifest: &Manifest,
    first_run: Option<RunOutput>,
) -> SetScore {
    let frac = |k: usize, n: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
    let correct = samples.iter().filter(|s| s.correct).count();
    let total = samples.len() + skipped.len();
    let em: Vec<bool> = samples.iter().filter_map(|s| s.exact_match).collect();
    let key_of_skipped: Vec<(usize, f64)> = skipped
        .iter()
        .filter_map(|k| manifest.samples.iter().find(|s| s.id == k.id))
        .map(|s| (s.frames, s.depth))
        .collect();
    let mut keys: Vec<(usize, f64)> = samples.iter().map(|s| (s.frames, s.depth)).collect();
    keys.extend(&key_of_skipped);
    keys.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    keys.dedup();
    let by_depth = keys
        .into_iter()
        .map(|(frames, depth)| {
            let cell: Vec<&SampleScore> = samples
                .iter()
                .filter(|s| s.frames == frames && s.depth == depth)
                .collect();
            let lost = key_of_skipped
                .iter()
                .filter(|k| **k == (frames, depth))
                .count();
            DepthAccuracy {
                depth,
                frames,
                n: cell.len() + lost,
                accuracy: frac(cell.iter().filter(|s| s.correct).count(), cell.len() + lost),
            }
        })
        .collect();
    let mut predicted_counts = [0; 4];
    for s in &samples {
        if let Some(k) = LETTERS.iter().position(|l| *l == s.predicted) {
            predicted_counts[k] += 1;
        }
    }
    SetScore {
        accuracy: frac(correct, total),
        exact_match: (!em.is_empty())
            .then(|| frac(em.iter().filter(|&&b| b).count(), em.len() + skipped.len())),
        by_depth,
        predicted_counts,
        samples,
        skipped,
        first_run,
    }
}

/// Write `niah.csv` (`depth,frames,accuracy`) for `scores`.
pub fn write_niah_csv(path: &Path, by_depth: &[DepthAccuracy]) -> Result<(), EvalError> {
    let mut text = String::from("depth,frames,accuracy,n\n");
    for c in by_depth {
        text += &format!("{},{},{:.4},{}\n", c.depth, c.frames, c.accuracy, c.n);
    }
    std::fs::write(path, text).map_err(EvalError::io(path))
}
