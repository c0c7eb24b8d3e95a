//! [`RunOutput`]: everything a run records, its summary, and the run directory it writes.

use std::path::Path;

use hico_core::{
    AttentionCapture, FramePlan, Provenance, RetentionTrace, VideoInfo, config::PipelineConfig,
    ledger::Ledger,
};
use serde::Serialize;

use crate::ModelError;

/// Token counts at each stage of the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageCounts {
    /// Sampled frames T.
    pub frames: usize,
    /// Clips (T / L).
    pub clips: usize,
    /// Patch tokens out of the encoder (T·h·w).
    pub encoder_tokens: usize,
    /// Tokens after the clip compressor.
    pub compressed_tokens: usize,
    /// Tokens out of the connector (equal to the compressed count).
    pub connector_tokens: usize,
    /// What the `[video_compressor]` slot did (tokens in and out, the method's seconds).
    pub video_slot: Option<crate::SlotRecord>,
    /// Text tokens of the prompt.
    pub prompt_tokens: usize,
    /// Visual tokens at the input of each decoder layer.
    pub visual_per_layer: Vec<usize>,
    /// Sequence length at the input of each decoder layer.
    pub seq_len_per_layer: Vec<usize>,
    /// Visual KV entries the pruned layers attended to at each decode step, when the
    /// `[kv_cache]` method prunes them (empty, and not written, for `kind = "none"`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub visual_kv_per_step: Vec<usize>,
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Decoded answer text.
    pub answer: String,
    /// Generated token ids.
    pub answer_tokens: Vec<u32>,
    /// Stage token counts.
    pub counts: StageCounts,
    /// Prefill FLOPs and KV bytes per layer.
    pub ledger: Ledger,
    /// Visual tokens kept per layer.
    pub trace: RetentionTrace,
    /// Attention per frame for captured layers.
    pub attention: Option<AttentionCapture>,
    /// Provenance of the visual tokens.
    pub provenance: Provenance,
    /// Facts of the video.
    pub info: VideoInfo,
    /// Sampled frames.
    pub plan: FramePlan,
}

impl RunOutput {
    /// A human-readable summary of stage counts and the ledger.
    pub fn summary(&self) -> String {
        let c = &self.counts;
        let mut s = format!(
            "video: {} frames at {:.2} fps ({:.2} s), {}x{}\n\
             sampled frames: {} in {} clips\n\
             encoder tokens: {}\n\
             compressed tokens: {}\n\
             connector tokens: {}\n\
             prompt text tokens: {}\n\
             LLM visual tokens per layer: {:?}\n\
             LLM sequence length per layer: {:?}\n",
            self.info.n_frames,
            self.info.fps,
            self.info.duration,
            self.info.width,
            self.info.height,
            c.frames,
            c.clips,
            c.encoder_tokens,
            c.compressed_tokens,
            c.connector_tokens,
            c.prompt_tokens,
            c.visual_per_layer,
            c.seq_len_per_layer,
        );
        if let Some(r) = c.video_slot.as_ref().filter(|r| r.kind != "none") {
            s += &format!(
                "video compressor `{}`: {} -> {} tokens (seen as {} x {}; {:.1} ms)\n",
                r.kind,
                r.tokens_in,
                r.tokens_out,
                r.t,
                r.n,
                r.seconds * 1e3
            );
        }
        if !c.visual_kv_per_step.is_empty() {
            s += &format!(
                "visual KV entries per decode step: {:?}\n",
                c.visual_kv_per_step
            );
        }
        s += &format!(
            "prefill: {:.3} GFLOP, KV cache {:.1} KiB (f32)\n",
            self.ledger.total_flops / 1e9,
            self.ledger.total_kv_bytes / 1024.0
        );
        s
    }

    /// Write the run directory: `config.json`, `summary.json`, `provenance.json`,
    /// `retention.json`, `ledger.json` and, when captured, `attention.json`.
    pub fn write_dir(&self, dir: &Path, cfg: &PipelineConfig) -> Result<(), ModelError> {
        std::fs::create_dir_all(dir).map_err(|source| ModelError::Io {
            path: dir.into(),
            source,
        })?;
        cfg.write_json(&dir.join("config.json"))?;
        let summary = serde_json::json!({
            "answer": self.answer,
            "answer_tokens": self.answer_tokens,
            "counts": self.counts,
            "video": self.info,
            "plan": self.plan,
        });
        write_json(&dir.join("summary.json"), &summary)?;
        write_json(&dir.join("provenance.json"), &self.provenance)?;
        write_json(&dir.join("retention.json"), &self.trace)?;
        write_json(&dir.join("ledger.json"), &self.ledger)?;
        if let Some(a) = &self.attention {
            write_json(&dir.join("attention.json"), a)?;
        }
        Ok(())
    }
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ModelError::Invalid(format!("{}: {e}", path.display())))?;
    std::fs::write(path, text).map_err(|source| ModelError::Io {
        path: path.into(),
        source,
    })
}
