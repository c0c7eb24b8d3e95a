//! Helpers shared by the wgpu parity suites: the two backends, fixture paths and JSON, and
//! the one comparison every suite uses ([`close`]), which prints the observed error so that
//! the CI log records it next to its tolerance.

use std::path::{Path, PathBuf};

use burn::tensor::{Tensor, backend::Backend};
use hico_core::LanguageModel;
use hico_core::config::AttentionImpl;
use hico_llm::{AttentionOptions, CausalLm};

/// The reference: burn's flex backend on the CPU, with hico's kernels.
pub type Cpu = hico_backend::Cpu;
/// The GPU path: burn-wgpu with kernel fusion (and autotune, as hico's `cuda` feature builds
/// burn-cuda), f32. In CI its default adapter is Mesa's lavapipe.
pub type Gpu = burn::backend::Wgpu;

/// The wgpu device: the default adapter (lavapipe where no GPU is present). A machine
/// without any Vulkan device panics here, naming wgpu's adapter error: never a silent skip.
pub fn gpu() -> burn::backend::wgpu::WgpuDevice {
    Default::default()
}

/// The flex device.
pub fn cpu() -> burn::tensor::Device<Cpu> {
    hico_backend::cpu_device()
}

/// The repository root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `crates/hico-llm/tests/fixtures/<name>` (made by `scripts/make_llm_fixtures.py` and
/// `scripts/make_llm_family_fixtures.py` with transformers).
pub fn llm_fixture(name: &str) -> PathBuf {
    root().join("crates/hico-llm/tests/fixtures").join(name)
}

/// Parse a JSON file of the LLM fixtures.
pub fn json(name: &str) -> serde_json::Value {
    let path = llm_fixture(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A JSON array of numbers as f32 (nested arrays flattened).
pub fn floats(v: &serde_json::Value) -> Vec<f32> {
    match v {
        serde_json::Value::Array(a) => a.iter().flat_map(floats).collect(),
        x => vec![x.as_f64().expect("a number") as f32],
    }
}

/// A JSON array of token ids.
pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("an array of ids")
        .iter()
        .map(|x| x.as_u64().expect("an id") as u32)
        .collect()
}

/// A tensor's values as f32.
pub fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Vec<f32> {
    t.into_data().convert::<f32>().to_vec().unwrap()
}

/// Largest absolute difference (lengths must agree).
pub fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths differ");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Assert `max |got − want| <= tol`, printing the observed error (`what` names the suite,
/// the model and the case). A NaN anywhere fails.
pub fn close(what: &str, got: &[f32], want: &[f32], tol: f32) -> f32 {
    assert!(
        got.iter().all(|x| x.is_finite()),
        "{what}: non-finite values on the device"
    );
    let d = max_diff(got, want);
    println!("wgpu-parity {what}: max |diff| {d:.3e} (tolerance {tol:.0e})");
    assert!(d <= tol, "{what}: max |diff| {d:e} > {tol:e}");
    d
}

/// A fixture LLM on backend `B`, with the attention implementation `imp`.
pub fn model<B: hico_backend::HicoBackend>(
    name: &str,
    imp: AttentionImpl,
    device: &B::Device,
) -> CausalLm<B> {
    CausalLm::<B>::load_hf(&llm_fixture(name), device)
        .unwrap_or_else(|e| panic!("loading fixture {name}: {e}"))
        .with_attention(AttentionOptions {
            implementation: imp,
            ..Default::default()
        })
}

/// Last-position logits of a prefill, then `steps` cached greedy decode steps' logits,
/// all flattened: the path `hico run` takes, for comparing two backends.
pub fn prefill_and_decode<B: hico_backend::HicoBackend>(
    m: &CausalLm<B>,
    input: hico_core::PrefillInput<B>,
    tokens: &[u32],
) -> (Vec<f32>, hico_core::PrefillOutput<B>) {
    let (out, mut cache) = m.prefill(input);
    let mut all = values(out.last_logits.clone());
    for &t in tokens {
        all.extend(values(m.decode_step(t, &mut cache)));
    }
    (all, out)
}
