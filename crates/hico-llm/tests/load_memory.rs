//! Loading a checkpoint holds the model plus one tensor in flight, never the file or an f32
//! copy of every tensor beside the model (what the loader before issue #16 did: peak at least
//! model + file). Measured with the counting allocator of `hico_backend::mem` (exact heap bytes,
//! not timings); its own test binary, so no other test allocates while it measures.

use hico_backend::mem::{self, Tracking};
use hico_backend::{Cpu, cpu_device};
use hico_llm::{CausalLm, LlmSpec};

#[global_allocator]
static ALLOC: Tracking = Tracking;

#[test]
fn loading_holds_the_model_plus_one_tensor() {
    assert!(mem::tracking(), "the counting allocator is not installed");
    let dev = cpu_device();
    // 12 layers so that no single tensor is a large share of the model (largest: an MLP
    // matrix, 128 × 512 f32 = 256 KiB; the model ~11 MiB).
    let spec = LlmSpec::tiny("qwen2", 256, 128, 512, 12, 4, 2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    CausalLm::<Cpu>::random(&spec, &dev)
        .save_hf(dir.path())
        .unwrap();
    let file = std::fs::metadata(dir.path().join("model.safetensors"))
        .unwrap()
        .len() as usize;
    // One-time set-up (thread pool, caches) out of the figures.
    drop(CausalLm::<Cpu>::load_hf(dir.path(), &dev).unwrap());

    let base = mem::reset();
    let model = CausalLm::<Cpu>::load_hf(dir.path(), &dev).unwrap();
    let s = mem::stats();
    let params = burn::module::Module::num_params(&model);
    let tensor = 128 * 512 * 4;
    // What the loaded model keeps (its parameters and its RoPE tables) and what loading needed
    // on top of that at its peak.
    let held = s.live - base.live;
    let transient = s.peak_above(&base) - held;
    eprintln!(
        "parameters {} B, model holds {held} B, file {file} B: transient peak {transient} B, \
         largest block {} B (largest tensor {tensor} B)",
        params * 4,
        s.largest
    );
    assert!(
        held >= params * 4,
        "the model holds {held} B for {params} parameters"
    );
    // Reading the file whole would allocate a block the size of the file.
    assert!(
        s.largest < file / 4,
        "a {}-byte block was allocated while loading a {file}-byte file",
        s.largest
    );
    // The read, converted and transposed copies of one tensor; the old loader needed the
    // file plus an f32 copy of every tensor (~2× the file here) on top of the model.
    assert!(
        transient <= 6 * tensor,
        "loading needed {transient} B beyond the model (largest tensor {tensor} B, file {file} B)"
    );
    drop(model);
}
