//! The GPU code path, checked on burn-wgpu (`cargo test --features wgpu --test wgpu_parity`;
//! in CI on Mesa's lavapipe, a Vulkan device on the CPU, see docs/gpu.md "What runs where"):
//! the same cubecl kernels, fusion and autotune as burn-cuda, against flex and against the
//! transformers / official-code fixtures the CPU suites use. Each comparison prints its
//! observed error with its tolerance (`-- --nocapture` shows them).
#![cfg(feature = "wgpu")]

mod wgpu_parity {
    pub mod attention;
    pub mod common;
    pub mod dropout;
    pub mod llm;
    pub mod memory;
    pub mod release;
    pub mod train;
}
