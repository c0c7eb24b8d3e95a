//! Backend aliases. The whole model is written once over `B: Backend` (inference) or
//! `B: AutodiffBackend` (training); the binary picks a concrete backend by cargo feature
//! and `--device`.

/// The default CPU backend: burn's pure-Rust `flex` backend (rayon + SIMD), measured the
/// fastest of burn 0.21's CPU backends for our shapes (see DESIGN.md).
pub type Cpu = burn::backend::Flex;
/// The default CPU backend with autodiff, for training and tests.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;
/// The CPU device.
pub fn cpu_device() -> burn::tensor::Device<Cpu> {
    Default::default()
}
