//! The checkpoint key map of [`CausalLm`] (one [`Weights::walk`], used to load and to save)
//! and Hugging Face model directories: `config.json` plus `model.safetensors` or a sharded
//! `model.safetensors.index.json`, read one tensor at a time by `hico_weights` (bf16,
//! f16 and f32; computed in f32). Every missing, unexpected or mis-shaped tensor is reported
//! by name in one error.
//!
//! The supported families share transformers' key layout; optional parts (biases, q/k
//! norms) are visited where the model has them.

use hico_backend::HicoBackend;
use std::path::Path;

use hico_weights::{Loader, SaveDtype, Saver, WeightFiles, WeightVisitor, Weights};
use serde_json::Value;

use crate::{CausalLm, LlmError, LlmSpec};

impl<B: HicoBackend> Weights<B> for CausalLm<B> {
    fn walk<V: WeightVisitor<B>>(&mut self, prefix: &str, v: &mut V) {
        let m = &mut self.model;
        v.embedding(&format!("{prefix}model.embed_tokens"), &mut m.embed_tokens);
        for (i, layer) in m.layers.iter_mut().enumerate() {
            let p = format!("{prefix}model.layers.{i}");
            let a = &mut layer.self_attn;
            v.linear(&format!("{p}.self_attn.q_proj"), &mut a.q_proj);
            v.linear(&format!("{p}.self_attn.k_proj"), &mut a.k_proj);
            v.linear(&format!("{p}.self_attn.v_proj"), &mut a.v_proj);
            v.linear(&format!("{p}.self_attn.o_proj"), &mut a.o_proj);
            if let Some(n) = a.q_norm.as_mut() {
                v.rms_norm(&format!("{p}.self_attn.q_norm"), n);
            }
            if let Some(n) = a.k_norm.as_mut() {
                v.rms_norm(&format!("{p}.self_attn.k_norm"), n);
            }
            let mlp = &mut layer.mlp;
            v.linear(&format!("{p}.mlp.gate_proj"), &mut mlp.gate_proj);
            v.linear(&format!("{p}.mlp.up_proj"), &mut mlp.up_proj);
            v.linear(&format!("{p}.mlp.down_proj"), &mut mlp.down_proj);
            v.rms_norm(&format!("{p}.input_layernorm"), &mut layer.input_layernorm);
            v.rms_norm(
                &format!("{p}.post_attention_layernorm"),
                &mut layer.post_attention_layernorm,
            );
        }
        v.rms_norm(&format!("{prefix}model.norm"), &mut m.norm);
        if let Some(head) = self.lm_head.as_mut() {
            v.linear(&format!("{prefix}lm_head"), head);
        }
    }
}

impl<B: HicoBackend> CausalLm<B> {
    /// Load a Hugging Face directory: `config.json` (the family from its `model_type`) and
    /// its safetensors weights.
    pub fn load_hf(dir: &Path, device: &B::Device) -> Result<Self, LlmError> {
        let spec = LlmSpec::from_file(&dir.join("config.json"))?;
        let files = WeightFiles::open_dir(dir)?;
        let mut loader = Loader::new(&files, device);
        let model = Self::load_with(&spec, "", &mut loader, device);
        loader.finish(|k| spec.ignorable(k))?;
        Ok(model)
    }

    /// Build the model of `spec` and fill it from a caller's `loader`, its keys under
    /// `prefix` (`""` for transformers' layout). For a combined checkpoint (e.g. a
    /// VideoChat-Flash release holding vision tower, projector and LLM in one file): walk
    /// every part on the same loader, then call `loader.finish` once, accepting
    /// [`LlmSpec::ignorable`] keys.
    pub fn load_with(
        spec: &LlmSpec,
        prefix: &str,
        loader: &mut Loader<'_, B>,
        device: &B::Device,
    ) -> Self {
        let mut model = Self::init(spec, device);
        model.walk(prefix, loader);
        model
    }

    /// Write `dir/config.json` and `dir/model.safetensors` (f32) in the Hugging Face
    /// layout, loadable by transformers' `AutoModelForCausalLM.from_pretrained`.
    pub fn save_hf(&self, dir: &Path) -> Result<(), LlmError> {
        let mut saver = Saver::new(SaveDtype::F32);
        self.clone().walk("", &mut saver);
        saver.write_dir(dir, None)?;
        let path = dir.join("config.json");
        let text = serde_json::to_string_pretty(&Value::Object(self.spec.to_hf()))
            .expect("a JSON map serialises");
        std::fs::write(&path, text).map_err(|source| LlmError::Io { path, source })
    }
}
