//! Every LLM family against its transformers fixture on wgpu, with hico's composed tiled
//! attention and with burn's fused attention (`[llm] attention = "fused"`): logits of every
//! fixture prompt, the greedy continuation, cached decoding against a full forward, and the
//! same logits on flex.

use hico_core::LanguageModel;
use hico_core::config::AttentionImpl;
use hico_core::config::GenerationConfig;
use hico_llm::{CausalLm, generate, ids_tensor, text_input};

use super::common::{Cpu, Gpu, close, cpu, floats, gpu, ids, json, model, values};

/// Every fixture model (Qwen2 tied / untied / GQA, LLaMA-3 with its rotary scaling, tied
/// LLaMA, Qwen3 with q/k norms).
pub const MODELS: [&str; 6] = ["tied", "untied", "gqa", "llama3", "llama_tied", "qwen3"];

/// Logits against transformers' f32 logits. The CPU suite holds 1e-4
/// (crates/hico-llm/tests/parity.rs); the device adds its own rounding: both sides are f32,
/// but matmuls, RMSNorm and softmax sum in another order (tiled, fused kernels), a few ulps
/// per op on logits of magnitude ~1.
const TOL_TORCH: f32 = 1e-4;
/// Logits against flex on the same weights: the same algorithm, reductions ordered
/// differently.
const TOL_FLEX: f32 = 1e-4;

fn check_family(name: &str, imp: AttentionImpl) {
    let g: CausalLm<Gpu> = model(name, imp, &gpu());
    let c: CausalLm<Cpu> = model(name, imp, &cpu());
    let rec = json(&format!("{name}.json"));
    for (i, prompt) in rec["prompts"].as_array().unwrap().iter().enumerate() {
        let p = ids(prompt);
        let got = values(g.forward_ids(&p));
        let what = format!("llm {name} {imp:?} prompt {i}");
        close(
            &format!("{what} vs transformers"),
            &got,
            &floats(&rec["logits"][i]),
            TOL_TORCH,
        );
        close(
            &format!("{what} vs flex"),
            &got,
            &values(c.forward_ids(&p)),
            TOL_FLEX,
        );
        let greedy = ids(&rec["greedy"][i]);
        let cfg = GenerationConfig {
            max_new_tokens: greedy.len(),
            ..Default::default()
        };
        let input = text_input(g.embed(ids_tensor(&p, &gpu())));
        let out = generate(&g, input, &p, &cfg, &[], |_| {});
        assert_eq!(out.tokens, greedy, "{what}: greedy continuation");
    }
}

#[test]
fn families_match_transformers_with_composed_attention() {
    for name in MODELS {
        check_family(name, AttentionImpl::Own);
    }
}

#[test]
fn families_match_transformers_with_fused_attention() {
    for name in MODELS {
        check_family(name, AttentionImpl::Fused);
    }
}

#[test]
fn cached_decoding_equals_full_forward() {
    for name in ["gqa", "llama3", "qwen3"] {
        let m: CausalLm<Gpu> = model(name, AttentionImpl::Own, &gpu());
        let toks = [3u32, 9, 27, 100, 5, 64];
        let (_, mut cache) = m.prefill(text_input(m.embed(ids_tensor(&toks[..3], &gpu()))));
        for n in 3..toks.len() {
            let step = values(m.decode_step(toks[n], &mut cache));
            let full = values(m.forward_ids(&toks[..=n]));
            let v = step.len();
            close(
                &format!("decode {name} step {n} vs full forward"),
                &step,
                &full[full.len() - v..],
                TOL_FLEX,
            );
        }
    }
}
