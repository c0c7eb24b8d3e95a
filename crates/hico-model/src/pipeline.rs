//! [`Pipeline`]: a [`VideoLlm`] plus the weightless components, built from a config, and the
//! inference path: stream clips through encoder and compressor (bounded memory whatever the
//! video length), splice the visual tokens into the chat prompt, prefill with the dropout
//! plan, decode.

use hico_backend::HicoBackend;
use std::path::Path;

use burn::prelude::*;
use hico_core::{
    ClipCompressor, DropoutSchedule, FrameLayout, FramePlan, KeepRule, LanguageModel, PrefillInput,
    PrefillOutput, Provenance, Sampler, VideoInfo, VisionEncoder, aggregate_attention,
    config::{CompressorConfig, PipelineConfig},
    ledger::ledger,
};
use hico_llm::{HicoTokenizer, chat_prompt, generate};
use hico_video::{FrameReader, frames_to_tensor_as, timestamp_prompt};
use hico_vision::{Connector, UmtEncoder, build_compressor};
use indicatif::ProgressBar;

use crate::video_slot::{SlotRecord, compress_block, layout};
use crate::{ModelError, RunOutput, StageCounts, VideoLlm};

/// Clips encoded per encoder call: bounds activation memory on long videos.
const CLIPS_PER_BATCH: usize = 4;

/// A runnable pipeline.
pub struct Pipeline<B: Backend> {
    /// The resolved config.
    pub cfg: PipelineConfig,
    /// Weights.
    pub model: VideoLlm<B>,
    /// Frame sampler.
    pub sampler: Box<dyn Sampler>,
    /// Clip compressor.
    pub compressor: Box<dyn ClipCompressor<B>>,
    /// Dropout schedule.
    pub schedule: Box<dyn DropoutSchedule>,
    /// Tokenizer of the LLM.
    pub tokenizer: HicoTokenizer,
    /// Where tensors live.
    pub device: Device<B>,
}

/// A video after the vision side: LLM-width visual tokens and their provenance.
#[derive(Debug, Clone)]
pub struct EncodedVideo<B: Backend> {
    /// Facts of the file.
    pub info: VideoInfo,
    /// The sampled frames.
    pub plan: FramePlan,
    /// `[n_visual, llm_hidden]`.
    pub embeds: Tensor<B, 2>,
    /// Which clip/frames/patches each visual token covers.
    pub provenance: Provenance,
    /// Patch tokens the encoder produced (before compression).
    pub encoder_tokens: usize,
    /// Per visual token, the attention its patches received in the encoder's last block;
    /// computed only when the `[video_compressor]` reads it (VisionZip).
    pub attention: Option<Vec<f32>>,
    /// What the `[video_compressor]` slot did, once applied ([`Pipeline::compress_video`]);
    /// `None` before.
    pub video_slot: Option<SlotRecord>,
}

/// Token ids of the chat prompt around the video placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// Ids before the visual tokens.
    pub before: Vec<u32>,
    /// Ids after the visual tokens (timestamp sentence, question, assistant header).
    pub after: Vec<u32>,
}

impl<B: HicoBackend> Pipeline<B> {
    /// Check `cfg` ([`PipelineConfig::validate`]), then build every component: all weights
    /// from the release when `cfg.model` names one ([`crate::release`]); otherwise from the
    /// checkpoints the config names, random where it names none (seeded by `cfg.seed`).
    pub fn new(cfg: PipelineConfig, device: &Device<B>) -> Result<Self, ModelError> {
        // Configs built in code (grid cells, stage overrides) get the checks a loaded file
        // gets: a drop layer the LLM lacks or an unsupported HF model fails here, by name.
        crate::validate_config(
            &cfg,
            Path::new(&format!("<pipeline config `{}`>", cfg.name)),
        )?;
        B::seed(device, cfg.seed);
        if let Some(source) = &cfg.model {
            let (model, tokenizer) = crate::release::load_model(&cfg, source.path(), device)?;
            return Ok(Self::with_model(cfg, model, tokenizer, device));
        }
        let encoder = match &cfg.vision.checkpoint {
            Some(path) => UmtEncoder::load(&cfg.vision, path, device)?,
            None => UmtEncoder::new(&cfg.vision, device),
        };
        let (llm, tokenizer) = hico_llm::load_llm(&cfg.llm, device)?;
        let hidden = llm.shape().hidden;
        let connector = Connector::new(&cfg.connector, cfg.vision.width, hidden, device);
        let model = VideoLlm {
            encoder,
            connector,
            llm,
        };
        Ok(Self::with_model(cfg, model, tokenizer, device))
    }

    /// Wrap existing weights (e.g. a trained model) with the components `cfg` names; the
    /// vision encoder takes the attention implementation of `[llm] attention`.
    pub fn with_model(
        cfg: PipelineConfig,
        mut model: VideoLlm<B>,
        tokenizer: HicoTokenizer,
        device: &Device<B>,
    ) -> Self {
        model.encoder = model.encoder.with_attention(cfg.llm.attention().0);
        Self {
            sampler: hico_video::build_sampler(&cfg.sampler, cfg.video.clip_len),
            compressor: build_compressor::<B>(&cfg.compressor, cfg.vision.heads),
            schedule: hico_llm::build_schedule(&cfg.dropout),
            cfg,
            model,
            tokenizer,
            device: device.clone(),
        }
    }

    /// Replace the weights by a function of them, keeping every other component (training
    /// hands the model to the optimizer and back).
    pub fn map_model<E>(
        self,
        f: impl FnOnce(VideoLlm<B>) -> Result<VideoLlm<B>, E>,
    ) -> Result<Self, E> {
        let Self {
            cfg,
            model,
            sampler,
            compressor,
            schedule,
            tokenizer,
            device,
        } = self;
        Ok(Self {
            model: f(model)?,
            cfg,
            sampler,
            compressor,
            schedule,
            tokenizer,
            device,
        })
    }

    /// Decode, sample, encode, compress and connect a video, a few clips at a time.
    pub fn encode_video(
        &self,
        path: &Path,
        progress: Option<&ProgressBar>,
    ) -> Result<EncodedVideo<B>, ModelError> {
        let mut reader = FrameReader::open(path)?;
        reader.set_resize(self.cfg.video.resize);
        let info = *reader.info();
        let plan = self.sampler.sample(&info)?;
        let v = &self.cfg.video;
        let (mean, std, size, pixels) = (v.mean, v.std, v.size, v.pixels);
        self.encode_frames(info, plan, progress, |indices| {
            let frames = reader.read(indices, size)?;
            Ok(frames_to_tensor_as::<B>(
                &frames,
                mean,
                std,
                pixels,
                &self.device,
            ))
        })
    }

    /// Encode the frames of `plan`, asking `read` for a few clips' frames at a time
    /// (`[n, 3, size, size]` normalised pixels for the given source indices): memory stays
    /// bounded by one batch of clips plus the compressed tokens, whatever the video length.
    pub fn encode_frames(
        &self,
        info: VideoInfo,
        plan: FramePlan,
        progress: Option<&ProgressBar>,
        mut read: impl FnMut(&[usize]) -> Result<Tensor<B, 4>, ModelError>,
    ) -> Result<EncodedVideo<B>, ModelError> {
        let (l, size) = (self.cfg.video.clip_len, self.cfg.video.size);
        if plan.is_empty() || !plan.len().is_multiple_of(l) {
            return Err(ModelError::Invalid(format!(
                "sampler chose {} frames, not a positive multiple of clip_len {l}",
                plan.len()
            )));
        }
        let n_clips = plan.len() / l;
        if let Some(pb) = progress {
            pb.set_length(n_clips as u64);
        }
        let (mut parts, mut tokens, mut encoder_tokens) = (Vec::new(), Vec::new(), 0);
        let with_attention = self.cfg.video_compressor.needs().attention;
        let mut attention = with_attention.then(Vec::new);
        for c0 in (0..n_clips).step_by(CLIPS_PER_BATCH) {
            let c1 = (c0 + CLIPS_PER_BATCH).min(n_clips);
            let pixels = read(&plan.indices[c0 * l..c1 * l])?;
            let clips = pixels.reshape([c1 - c0, l, 3, size, size]);
            let v = self
                .model
                .visual_embeds_with(clips, &*self.compressor, c0, with_attention);
            if let (Some(all), Some(a)) = (attention.as_mut(), v.attention) {
                all.extend(a);
            }
            parts.push(v.embeds);
            tokens.extend(v.tokens);
            encoder_tokens += v.encoder_tokens;
            if let Some(pb) = progress {
                pb.set_position(c1 as u64);
            }
        }
        let provenance = Provenance {
            grid: self.model.encoder.grid(l, size, size),
            frame_indices: plan.indices.clone(),
            frame_times: plan.timestamps.clone(),
            tokens,
        };
        Ok(EncodedVideo {
            info,
            plan,
            embeds: Tensor::cat(parts, 0),
            provenance,
            encoder_tokens,
            attention,
            video_slot: None,
        })
    }

    /// Apply the `[video_compressor]` slot to an encoded video for one question (query-aware
    /// methods read the question's token embeddings). A video the slot has already seen is
    /// returned as it is, so callers may apply it early (to count tokens) or leave it to
    /// [`Self::prefill`] / [`Self::answer`].
    pub fn compress_video(
        &self,
        video: &EncodedVideo<B>,
        question: &str,
    ) -> Result<EncodedVideo<B>, ModelError> {
        let method = &self.cfg.video_compressor;
        let n_visual = video.embeds.dims()[0];
        if video.video_slot.is_some() {
            return Ok(video.clone());
        }
        if method.is_none() {
            return Ok(EncodedVideo {
                video_slot: Some(SlotRecord {
                    kind: method.kind().into(),
                    tokens_in: n_visual,
                    tokens_out: n_visual,
                    t: 1,
                    n: n_visual,
                    seconds: 0.0,
                }),
                ..video.clone()
            });
        }
        let keeps_grid = self.cfg.compressor.keeps_frame_grid();
        let shape = layout(
            n_visual,
            video.plan.len(),
            self.cfg.video.clip_len,
            keeps_grid,
        );
        let query = method.needs().query.then(|| {
            let ids: Vec<i64> = self
                .tokenizer
                .encode(question)
                .into_iter()
                .map(i64::from)
                .collect();
            let n = ids.len();
            let ids = Tensor::<B, 1, Int>::from_data(TensorData::new(ids, [n]), &self.device);
            self.model
                .llm
                .embed(ids.unsqueeze::<2>())
                .squeeze_dim::<2>(0)
        });
        let (embeds, provenance, record) = compress_block(
            method,
            video.embeds.clone(),
            &video.provenance,
            shape,
            keeps_grid,
            query,
            video.attention.as_deref(),
        )?;
        Ok(EncodedVideo {
            info: video.info,
            plan: video.plan.clone(),
            embeds,
            provenance,
            encoder_tokens: video.encoder_tokens,
            attention: None,
            video_slot: Some(record),
        })
    }

    /// The chat prompt for a question about a video sampled as `plan`: the timestamp
    /// sentence (docs/design.md) follows the video placeholder, then the question.
    pub fn prompt(&self, plan: &FramePlan, question: &str) -> Prompt {
        let ts = timestamp_prompt(plan, self.cfg.prompt.timestamps);
        let (before, after) = chat_prompt(&self.cfg.prompt.system, &format!("\n{ts}{question}"));
        Prompt {
            before: self.tokenizer.encode(&before),
            after: self.tokenizer.encode(&after),
        }
    }

    /// Splice visual embeddings into the prompt and attach the dropout plan.
    ///
    /// # Shapes
    /// - `visual`: `[n_visual, hidden]`; the returned embeds are `[1, before + n_visual + after, hidden]`
    pub fn prefill_input(
        &self,
        prompt: &Prompt,
        visual: Tensor<B, 2>,
        capture_layers: Vec<usize>,
    ) -> PrefillInput<B> {
        let n_visual = visual.dims()[0];
        let ids = |v: &[u32]| {
            let data: Vec<i64> = v.iter().map(|&t| t as i64).collect();
            Tensor::<B, 1, Int>::from_data(TensorData::new(data, [v.len()]), &self.device)
                .unsqueeze::<2>()
        };
        let embeds = Tensor::cat(
            vec![
                self.model.llm.embed(ids(&prompt.before)),
                visual.unsqueeze::<3>(),
                self.model.llm.embed(ids(&prompt.after)),
            ],
            1,
        );
        let total = prompt.before.len() + n_visual + prompt.after.len();
        PrefillInput {
            embeds,
            visual_start: prompt.before.len(),
            visual_len: n_visual,
            plan: self.schedule.plan(self.model.llm.shape().layers, n_visual),
            queries: vec![total - 1],
            capture_layers,
            frames: self.frame_layout(n_visual),
            kv_cache: self.cfg.kv_cache.clone(),
        }
    }

    /// The frame layout of a visual block of `n_visual` tokens as it enters the LLM: frames of
    /// the clip compressor's per-frame grids (`identity`: every patch, `pool`: its cells) when
    /// it keeps them and the `[video_compressor]` is `none`; otherwise `None` (a method that
    /// needs frames inside the LLM, e.g. `framefusion`, is then refused).
    pub fn frame_layout(&self, n_visual: usize) -> Option<FrameLayout> {
        if !self.cfg.video_compressor.is_none() {
            return None;
        }
        let per_frame = match self.cfg.compressor {
            CompressorConfig::Identity => {
                let v = &self.cfg.video;
                self.model
                    .encoder
                    .grid(v.clip_len, v.size, v.size)
                    .per_frame()
            }
            CompressorConfig::Pool { tokens_per_frame } => tokens_per_frame,
            _ => return None,
        };
        (per_frame > 0 && n_visual.is_multiple_of(per_frame)).then_some(FrameLayout {
            frames: n_visual / per_frame,
            per_frame,
        })
    }

    /// [`Self::prefill_input`] cut to `[prompt] max_input_len` rows when longer, as a release
    /// cuts its spliced input to `tokenizer_model_max_length` (the head is kept: text before
    /// the video, then visual rows, then text after; the last kept row is the query). The
    /// release's compression indexes rows of the uncut input, and fails (attention ranking,
    /// or a cut inside the visual block); hico refuses those cases, naming the setting.
    ///
    /// # Shapes
    /// - `visual`: `[n_visual, hidden]`; the returned embeds are `[1, min(total, max), hidden]`
    pub fn inference_input(
        &self,
        prompt: &Prompt,
        visual: Tensor<B, 2>,
        capture_layers: Vec<usize>,
    ) -> Result<PrefillInput<B>, ModelError> {
        let mut input = self.prefill_input(prompt, visual, capture_layers);
        input.plan.check_layout(input.frames, input.visual_len)?;
        let [_, total, hidden] = input.embeds.dims();
        let Some(max) = self.cfg.prompt.max_input_len.filter(|&m| total > m) else {
            return Ok(input);
        };
        let visual_len = input.visual_len.min(max.saturating_sub(input.visual_start));
        let cut_visual = visual_len < input.visual_len;
        let attention = input
            .plan
            .stages
            .iter()
            .any(|s| s.rule == KeepRule::Attention);
        let fusion = input.plan.fusion.is_some();
        if (fusion || !input.plan.stages.is_empty()) && (fusion || attention || cut_visual) {
            return Err(ModelError::Invalid(format!(
                "prompt.max_input_len (a release's tokenizer_model_max_length) = {max} cuts this \
                 input of {total} rows ({} visual), and visual-token dropout ranks rows of the \
                 uncut input (the release's code fails here): raise the limit, sample fewer \
                 frames or turn dropout off",
                input.visual_len
            )));
        }
        if cut_visual && !input.capture_layers.is_empty() {
            return Err(ModelError::Invalid(format!(
                "prompt.max_input_len = {max} cuts into the visual tokens: attention capture \
                 needs them all"
            )));
        }
        input.embeds = input.embeds.slice([0..1, 0..max, 0..hidden]);
        input.visual_len = visual_len;
        input.queries = vec![max - 1];
        Ok(input)
    }

    /// Prefill only (e.g. to score answer options by their first-token logits).
    pub fn prefill(
        &self,
        video: &EncodedVideo<B>,
        question: &str,
        capture_layers: Vec<usize>,
    ) -> Result<PrefillOutput<B>, ModelError> {
        let video = self.compress_video(video, question)?;
        let prompt = self.prompt(&video.plan, question);
        let input = self.inference_input(&prompt, video.embeds.clone(), capture_layers)?;
        Ok(self.model.llm.prefill(input).0)
    }

    /// Answer a question about a video: the whole pipeline, with the run's records.
    pub fn answer(
        &self,
        video: &EncodedVideo<B>,
        question: &str,
        capture_layers: Vec<usize>,
        on_token: impl FnMut(u32),
    ) -> Result<RunOutput, ModelError> {
        let video = &self.compress_video(video, question)?;
        let prompt = self.prompt(&video.plan, question);
        let prompt_tokens = prompt.before.len() + prompt.after.len();
        let input = self.inference_input(&prompt, video.embeds.clone(), capture_layers)?;
        let mut stop = self.tokenizer.stop_ids();
        stop.extend(&self.model.llm.spec.eos_token_ids);
        // The prompt is given as embeddings: the repetition penalty sees only generated ids,
        // as in transformers' `generate(inputs_embeds=...)` of LLaVA-style video models.
        let generation = generate(
            &self.model.llm,
            input,
            &[],
            &self.cfg.generation,
            &stop,
            on_token,
        );
        let shape = self.model.llm.shape();
        let counts = StageCounts {
            frames: video.plan.len(),
            clips: video.plan.len() / self.cfg.video.clip_len,
            encoder_tokens: video.encoder_tokens,
            compressed_tokens: video.video_slot.as_ref().map_or(0, |r| r.tokens_in),
            connector_tokens: video.video_slot.as_ref().map_or(0, |r| r.tokens_in),
            video_slot: video.video_slot.clone(),
            prompt_tokens,
            visual_per_layer: generation.prefill.trace.counts(),
            seq_len_per_layer: generation.prefill.seq_lens.clone(),
            visual_kv_per_step: generation.visual_kv_per_step,
        };
        let attention = (!generation.prefill.attention.is_empty())
            .then(|| aggregate_attention(&generation.prefill.attention, &video.provenance));
        Ok(RunOutput {
            answer: self.tokenizer.decode(&generation.tokens),
            answer_tokens: generation.tokens,
            counts,
            ledger: ledger(&shape, &generation.prefill.seq_lens, 4),
            trace: generation.prefill.trace,
            attention,
            provenance: video.provenance.clone(),
            info: video.info,
            plan: video.plan.clone(),
        })
    }
}
