//! One sample through the whole model with its answer-token loss: frames → encoder →
//! compressor → connector → spliced prompt → LLM (executing the dropout plan when the
//! stage asks for it) → cross entropy on the answer spans.

use hico_backend::HicoBackend;
use std::sync::Arc;

use burn::{
    prelude::*,
    tensor::{ElementConversion, activation::log_softmax},
};
use hico_core::{DropPlan, FramePlan, Sampler};
use hico_model::{Pipeline, Prompt};
use hico_video::{FrameReader, Frames, frames_to_tensor};

use crate::{
    data::{Media, Sample},
    sequence::layout,
};

/// A sample after decoding (done in a loader thread).
#[derive(Debug)]
pub struct Decoded {
    /// The sampled frames.
    pub plan: FramePlan,
    /// Their pixels, `size × size` RGB.
    pub frames: Frames,
}

/// Decode a sample's media: videos by the stage's sampler, images as one frame repeated
/// to a clip. Errors are messages naming the file (the trainer skips and counts them).
pub fn decode(
    sample: &Sample,
    sampler: &Arc<dyn Sampler>,
    clip_len: usize,
    size: usize,
) -> Result<Decoded, String> {
    let path = sample.media.path();
    let mut reader = FrameReader::open(path).map_err(|e| e.to_string())?;
    let info = *reader.info();
    let plan = match &sample.media {
        Media::Video(_) => sampler.sample(&info).map_err(|e| e.to_string())?,
        Media::Image(_) => FramePlan {
            indices: vec![0; clip_len],
            timestamps: vec![0.0; clip_len],
            duration: info.duration,
        },
    };
    if plan.is_empty() || !plan.len().is_multiple_of(clip_len) {
        return Err(format!(
            "{}: sampler chose {} frames, not a positive multiple of clip_len {clip_len}",
            path.display(),
            plan.len()
        ));
    }
    let frames = reader
        .read(&plan.indices, size)
        .map_err(|e| e.to_string())?;
    Ok(Decoded { plan, frames })
}

/// What one sample's forward produced.
pub struct SampleLoss<B: Backend> {
    /// Mean cross entropy over the answer tokens, `[1]`.
    pub loss: Tensor<B, 1>,
    /// Its value.
    pub value: f32,
    /// Sequence length at the LLM input.
    pub tokens: usize,
    /// Answer tokens.
    pub answer_tokens: usize,
    /// Visual tokens at the LLM input.
    pub visual: usize,
    /// Visual tokens surviving the last drop.
    pub visual_kept: usize,
}

/// Forward one decoded sample. `None` when even its first turn exceeds `max_length`.
pub fn sample_loss<B: HicoBackend>(
    pipe: &Pipeline<B>,
    sample: &Sample,
    decoded: &Decoded,
    max_length: usize,
    visual_dropout: bool,
) -> Result<Option<SampleLoss<B>>, String> {
    let cfg = &pipe.cfg.video;
    let (l, size) = (cfg.clip_len, decoded.frames.size);
    let pixels = frames_to_tensor::<B>(&decoded.frames, cfg.mean, cfg.std, &pipe.device);
    let n_clips = decoded.plan.len() / l;
    let clips = pixels.reshape([n_clips, l, 3, size, size]);
    let visual = pipe.model.visual_embeds(clips, &*pipe.compressor, 0).embeds; // [n_visual, hidden]
    let n_visual = visual.dims()[0];
    let prompt = pipe.prompt(&decoded.plan, &sample.turns[0].question);
    let im_end = pipe
        .tokenizer
        .token_id("<|im_end|>")
        .ok_or("the tokenizer has no <|im_end|> token")?;
    let offset = prompt.before.len() + n_visual;
    let Some(text) = layout(
        &prompt.after,
        &sample.turns,
        |s| pipe.tokenizer.encode(s),
        im_end,
        max_length.saturating_sub(offset),
    ) else {
        return Ok(None);
    };
    let full = Prompt {
        before: prompt.before,
        after: text.after.clone(),
    };
    let mut input = pipe.prefill_input(&full, visual, Vec::new());
    if visual_dropout {
        input.queries = text.queries(offset);
    } else {
        input.plan = DropPlan::none();
    }
    let (vs, tokens) = (input.visual_start, offset + text.after.len());
    let targets = text.targets(offset);
    let positions: Vec<usize> = targets.iter().map(|t| t.0).collect();
    // The LM head runs on the target rows only (`[n, V]`), not on every surviving row.
    let out = pipe
        .model
        .llm
        .forward_train(input, &positions)
        .map_err(|e| e.to_string())?;
    let visual_kept = out
        .src
        .iter()
        .filter(|&&p| (vs..vs + n_visual).contains(&p))
        .count();
    let device = &pipe.device;
    let n = positions.len();
    let ids = Tensor::<B, 2, Int>::from_data(
        TensorData::new(
            targets.iter().map(|t| i64::from(t.1)).collect::<Vec<_>>(),
            [n, 1],
        ),
        device,
    );
    let logp = log_softmax(out.logits, 1); // [n, V]
    let loss = logp.gather(1, ids).mean().neg();
    let value: f32 = loss.clone().into_scalar().elem();
    Ok(Some(SampleLoss {
        loss,
        value,
        tokens,
        answer_tokens: n,
        visual: n_visual,
        visual_kept,
    }))
}
