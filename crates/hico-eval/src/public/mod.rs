//! Public video benchmarks (the tasks of hico-benchmarks: Video-MME, MVBench, MLVU,
//! LongVideoBench, LVBench, PerceptionTest) run through a pipeline as the official evaluation
//! runs them: `hico eval`.
//!
//! Per question: the video is decoded and sampled by the pipeline's sampler (the task's frame
//! budget, [`apply_settings`]), within the row's clip when it has one; the prompt is the task's
//! `doc_to_text` text given to the pipeline's chat recipe (time message, template, greedy,
//! the task's `max_new_tokens`); the reply is stripped as the official wrapper strips it and
//! scored by the task's parser. Decoding the next question's video runs on its own thread
//! while the model works on the current one ([`Options::prefetch`]). Each finished question is
//! a line of `predictions.jsonl` ([`predictions`]); `results.json` / `results.md` hold the
//! official aggregation with intervals ([`report`]).

pub mod predictions;
pub mod report;

use hico_backend::HicoBackend;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hico_benchmarks::{Question, Read, Task, py_strip};
use hico_core::config::{PipelineConfig, SamplerConfig};
use hico_core::{FramePlan, Sampler, VideoInfo};
use hico_model::{ModelError, Pipeline};
use hico_video::{FrameReader, Frames, decode_image, frames_to_tensor_as};

use crate::EvalError;
use crate::skip::{SkipLog, Skipped};
use predictions::{Prediction, Writer};

/// What `hico eval` runs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The task.
    pub task: Task,
    /// The benchmark folder as its publishers distribute it.
    pub data: PathBuf,
    /// Output folder (predictions, results, skipped questions).
    pub out: PathBuf,
    /// Run only the first N questions (of the shard).
    pub limit: Option<usize>,
    /// `(i, n)`: run the i-th (0-based) of n disjoint slices (question k goes to slice k mod n).
    pub shard: Option<(usize, usize)>,
    /// Unreadable questions tolerated before stopping (default: a tenth of the questions).
    pub max_skipped: Option<usize>,
    /// Decode the next question's video while the model works on the current one.
    pub prefetch: bool,
}

/// Set what the task's official script sets on `cfg`: the frame budget (`max_num_frames`, or
/// `max_frames` when given) on the sampler, and `max_new_tokens`, greedy decoding. Returns a
/// line saying what was set.
pub fn apply_settings(cfg: &mut PipelineConfig, task: Task, max_frames: Option<usize>) -> String {
    let s = task.settings();
    let budget = max_frames.unwrap_or(s.max_num_frames);
    match &mut cfg.sampler {
        SamplerConfig::DynamicFps {
            max_frames,
            min_frames,
            ..
        }
        | SamplerConfig::Fps {
            max_frames,
            min_frames,
            ..
        } => {
            *max_frames = budget;
            *min_frames = (*min_frames).min(budget);
        }
        SamplerConfig::Duration { t_max, t_min } => {
            *t_max = budget;
            *t_min = (*t_min).min(budget);
        }
        SamplerConfig::Uniform { frames } => *frames = (*frames).min(budget),
    }
    cfg.generation.max_new_tokens = s.max_new_tokens;
    cfg.generation.temperature = 0.0;
    format!(
        "{task}: at most {budget} frames, max_new_tokens {}, greedy",
        s.max_new_tokens
    )
}

/// The questions of `shard` (question k goes to slice k mod n), the first `limit` of them.
pub fn select(
    questions: Vec<Question>,
    shard: Option<(usize, usize)>,
    limit: Option<usize>,
) -> Vec<Question> {
    let (i, n) = shard.unwrap_or((0, 1));
    questions
        .into_iter()
        .enumerate()
        .filter(|(k, _)| k % n == i)
        .map(|(_, q)| q)
        .take(limit.unwrap_or(usize::MAX))
        .collect()
}

/// A question's sampled frames, decoded.
struct Decoded {
    info: VideoInfo,
    plan: FramePlan,
    frames: Frames,
}

/// The images of a frame folder in the official reader's order: by the number after the last
/// `_` of the file name (`…_(\d+).jpg|jpeg|png`); other files are ignored.
pub fn frame_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<(u64, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_ascii_lowercase();
            let stem = [".jpg", ".jpeg", ".png"]
                .iter()
                .find_map(|ext| name.strip_suffix(ext))?;
            let n = stem.rsplit('_').next()?.parse().ok()?;
            Some((n, p))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no `*_<n>.jpg` frames", dir.display()));
    }
    Ok(files.into_iter().map(|(_, p)| p).collect())
}

/// Decode and sample a question's media: a video file (the whole video, or the row's clip:
/// frames sampled within `[start, end]`, timestamps relative to the clip's start, as the clip is
/// the video the model is shown), or a frame folder at the frame rate the official reader
/// assumes (each chosen image decoded by FFmpeg).
fn decode(q: &Question, sampler: &dyn Sampler, cfg: &PipelineConfig) -> Result<Decoded, String> {
    let size = cfg.video.size;
    if let Read::Frames { fps } = q.media.read {
        let files = frame_files(&q.video)?;
        let n_frames = files.len();
        let info = VideoInfo {
            n_frames,
            fps,
            duration: n_frames as f64 / fps,
            width: 0,
            height: 0,
        };
        let plan = sampler.sample(&info).map_err(|e| e.to_string())?;
        let mut data = Vec::with_capacity(plan.len() * 3 * size * size);
        for &i in &plan.indices {
            let image =
                decode_image(&files[i], size, cfg.video.resize).map_err(|e| e.to_string())?;
            data.extend(image.data);
        }
        let frames = Frames {
            size,
            count: plan.len(),
            data,
        };
        return Ok(Decoded { info, plan, frames });
    }
    let mut reader = FrameReader::open(&q.video).map_err(|e| e.to_string())?;
    reader.set_resize(cfg.video.resize);
    let full = *reader.info();
    let (first, info) = match q.media.clip {
        None => (0, full),
        Some((start, end)) => {
            let last = full.n_frames.saturating_sub(1);
            let a = ((start.max(0.0) * full.fps).floor() as usize).min(last);
            let b = ((end * full.fps).ceil() as usize).clamp(a + 1, full.n_frames.max(a + 1));
            let n_frames = b - a;
            let clip = VideoInfo {
                n_frames,
                duration: n_frames as f64 / full.fps,
                ..full
            };
            (a, clip)
        }
    };
    let mut plan = sampler.sample(&info).map_err(|e| e.to_string())?;
    let indices: Vec<usize> = plan.indices.iter().map(|&i| i + first).collect();
    let frames = reader.read(&indices, size).map_err(|e| e.to_string())?;
    plan.indices = indices;
    Ok(Decoded { info, plan, frames })
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The results over every prediction in the folder (earlier runs included).
    pub results: report::Results,
    /// Questions answered by this call.
    pub ran: usize,
    /// Questions found already answered.
    pub resumed: usize,
    /// Questions skipped (unreadable).
    pub skipped: usize,
    /// Seconds of this call.
    pub seconds: f64,
}

/// Answer one question from its decoded frames.
fn answer<B: HicoBackend>(
    pipe: &Pipeline<B>,
    q: &Question,
    d: Decoded,
    start: Instant,
) -> Result<Prediction, ModelError> {
    let v = &pipe.cfg.video;
    let (mean, std, pixels) = (v.mean, v.std, v.pixels);
    let plane = 3 * d.frames.size * d.frames.size;
    let mut next = 0;
    let frames = &d.frames;
    let video = pipe.encode_frames(d.info, d.plan, None, |idx| {
        let part = Frames {
            size: frames.size,
            count: idx.len(),
            data: frames.data[next * plane..(next + idx.len()) * plane].to_vec(),
        };
        next += idx.len();
        Ok(frames_to_tensor_as::<B>(
            &part,
            mean,
            std,
            pixels,
            &pipe.device,
        ))
    })?;
    let video = pipe.compress_video(&video, &q.prompt)?;
    let out = pipe.answer(&video, &q.prompt, Vec::new(), |_| {})?;
    let stop = pipe.tokenizer.stop_ids();
    let ids: Vec<u32> = out
        .answer_tokens
        .iter()
        .copied()
        .filter(|t| !stop.contains(t) && !pipe.model.llm.spec.eos_token_ids.contains(t))
        .collect();
    let response = py_strip(&pipe.tokenizer.decode(&ids)).to_string();
    let parsed = q.task.parse(q, &response);
    Ok(Prediction {
        id: q.id.clone(),
        task: q.task,
        prompt: q.prompt.clone(),
        response,
        parsed: parsed.answer,
        correct: parsed.correct,
        answered: parsed.answered,
        random: parsed.random,
        gold: q.gold.clone(),
        options: q.options.clone(),
        groups: q.groups.clone(),
        video: q.video.clone(),
        frames: video.plan.len(),
        visual_tokens: video.embeds.dims()[0],
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Run `opts.task` on `pipe` (built with [`apply_settings`]); resumes the predictions already
/// in `opts.out`. `log` receives one progress line per question (rate and ETA).
pub fn run<B: HicoBackend>(
    pipe: &Pipeline<B>,
    opts: &Options,
    mut log: impl FnMut(&str),
) -> Result<Summary, EvalError> {
    let t0 = Instant::now();
    std::fs::create_dir_all(&opts.out).map_err(EvalError::io(&opts.out))?;
    let loaded = opts
        .task
        .load_lenient(&opts.data)
        .map_err(|e| EvalError::Spec {
            path: opts.data.clone(),
            key: opts.task.to_string(),
            message: e.to_string(),
        })?;
    let missing = loaded.skipped.len();
    for e in &loaded.skipped {
        log(&format!("not run (media missing): {e}"));
    }
    let questions = select(loaded.questions, opts.shard, opts.limit);
    let done = predictions::read(&opts.out, true)?;
    if let Some(p) = done.iter().find(|p| p.task != opts.task) {
        return Err(EvalError::Spec {
            path: opts.out.join("predictions.jsonl"),
            key: "task".into(),
            message: format!(
                "holds `{}` predictions, not `{}`: use another --out",
                p.task, opts.task
            ),
        });
    }
    let done_ids: std::collections::BTreeSet<&str> = done.iter().map(|p| p.id.as_str()).collect();
    let todo: Vec<&Question> = questions
        .iter()
        .filter(|q| !done_ids.contains(q.id.as_str()))
        .collect();
    let resumed = questions.len() - todo.len();
    if resumed > 0 {
        log(&format!(
            "resuming: {resumed} of {} questions already answered",
            questions.len()
        ));
    }
    let skips = SkipLog::in_dir(Some(&opts.out), questions.len(), opts.max_skipped)?;
    let mut writer = Writer::open(&opts.out)?;
    let (mut ran, mut skipped) = (0usize, 0usize);
    let sampler: &dyn Sampler = &*pipe.sampler;
    let cfg = &pipe.cfg;
    let mut on_done =
        |i: usize, q: &Question, result: Result<Prediction, String>| -> Result<(), EvalError> {
            match result {
                Ok(p) => {
                    writer.push(&p)?;
                    ran += 1;
                }
                Err(reason) => {
                    skipped += 1;
                    let s = Skipped {
                        id: q.id.clone(),
                        video: q.video.display().to_string(),
                        reason,
                    };
                    skips.record(&s, skipped, questions.len())?;
                }
            }
            let el = t0.elapsed().as_secs_f64();
            let rate = el / (i + 1) as f64;
            log(&format!(
                "[{}/{}] {} ({:.1} s/question, ETA {:.0} s)",
                i + 1,
                todo.len(),
                q.id,
                rate,
                rate * (todo.len() - i - 1) as f64
            ));
            Ok(())
        };
    let run_one =
        |q: &Question, d: Result<Decoded, String>, start: Instant| -> Result<Prediction, String> {
            let d = d?;
            answer(pipe, q, d, start).map_err(|e| e.to_string())
        };
    if opts.prefetch {
        std::thread::scope(|scope| -> Result<(), EvalError> {
            let mut pending = todo
                .first()
                .map(|q| scope.spawn(move || decode(q, sampler, cfg)));
            for (i, q) in todo.iter().enumerate() {
                let start = Instant::now();
                let d = pending
                    .take()
                    .expect("a decode per question")
                    .join()
                    .unwrap_or_else(|_| Err("the decoder thread panicked".into()));
                if let Some(next) = todo.get(i + 1) {
                    pending = Some(scope.spawn(move || decode(next, sampler, cfg)));
                }
                on_done(i, q, run_one(q, d, start))?;
            }
            Ok(())
        })?;
    } else {
        for (i, q) in todo.iter().enumerate() {
            let start = Instant::now();
            let d = decode(q, sampler, cfg);
            on_done(i, q, run_one(q, d, start))?;
        }
    }
    let all = predictions::read(&opts.out, false)?;
    let results = report::results(opts.task, &all, missing);
    report::write(
        &opts.out,
        &results,
        &format!("{} on {}", opts.task, opts.data.display()),
    )?;
    Ok(Summary {
        results,
        ran,
        resumed,
        skipped,
        seconds: t0.elapsed().as_secs_f64(),
    })
}

/// Join the predictions of several run folders (shards) into `out` and aggregate them.
pub fn merge(runs: &[PathBuf], out: &Path) -> Result<report::Results, EvalError> {
    let mut all: Vec<Prediction> = Vec::new();
    for r in runs {
        for p in predictions::read(r, false)? {
            if let Some(q) = all.iter().find(|q| q.id == p.id) {
                if q != &p && (q.correct != p.correct || q.response != p.response) {
                    return Err(EvalError::Spec {
                        path: r.join("predictions.jsonl"),
                        key: "id".into(),
                        message: format!("question `{}` answered differently in two runs", p.id),
                    });
                }
                continue;
            }
            all.push(p);
        }
    }
    let Some(task) = all.first().map(|p| p.task) else {
        return Err(EvalError::Spec {
            path: out.to_path_buf(),
            key: "runs".into(),
            message: "no predictions in the given folders".into(),
        });
    };
    if let Some(p) = all.iter().find(|p| p.task != task) {
        return Err(EvalError::Spec {
            path: out.to_path_buf(),
            key: "task".into(),
            message: format!("mixes `{task}` and `{}` predictions", p.task),
        });
    }
    std::fs::create_dir_all(out).map_err(EvalError::io(out))?;
    let path = out.join("predictions.jsonl");
    if path.exists() {
        std::fs::remove_file(&path).map_err(EvalError::io(&path))?;
    }
    let mut w = Writer::open(out)?;
    for p in &all {
        w.push(p)?;
    }
    let results = report::results(task, &all, 0);
    report::write(
        out,
        &results,
        &format!("{task}, {} runs merged", runs.len()),
    )?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_disjoint_and_cover_the_set() {
        let q = |i: usize| Question {
            task: Task::Mvbench,
            id: format!("s/{i}"),
            video: "v.mp4".into(),
            media: hico_benchmarks::Media {
                read: Read::Video,
                clip: None,
            },
            subtitle: None,
            prompt: String::new(),
            options: Vec::new(),
            gold: "A".into(),
            groups: Default::default(),
        };
        let all: Vec<Question> = (0..10).map(q).collect();
        let mut seen: Vec<String> = (0..3)
            .flat_map(|i| select(all.clone(), Some((i, 3)), None))
            .map(|q| q.id)
            .collect();
        seen.sort();
        let mut want: Vec<String> = all.iter().map(|q| q.id.clone()).collect();
        want.sort();
        assert_eq!(seen, want);
        assert_eq!(select(all, Some((1, 3)), Some(2)).len(), 2);
    }
}
