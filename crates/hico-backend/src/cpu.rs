//! The CPU backend and the thread that runs work on it. The whole model is written once
//! over `B: HicoBackend` (inference) or `B: HicoAutodiff` (training); the binary picks a
//! concrete backend by cargo feature and `--device`.

/// The default CPU backend: burn's pure-Rust `flex` backend (rayon + SIMD), measured the
/// fastest of burn 0.21's CPU backends for our shapes (see docs/design.md).
pub type Cpu = burn::backend::Flex;
/// The default CPU backend with autodiff, for training and tests.
pub type CpuAutodiff = burn::backend::Autodiff<Cpu>;
/// The CPU device.
pub fn cpu_device() -> burn::tensor::Device<Cpu> {
    Default::default()
}

/// `f()` run on a worker of rayon's global pool (the caller's thread waits). Every parallel
/// op inside (gemm, burn-flex's kernels, hico's) then splits its work with the other
/// workers in place; called from an outside thread, each op is handed to the pool and the
/// caller sleeps until it is done, two thread switches per op, which costs most where ops
/// are small (decode steps, short prefills, compressors). Training, scoring, `hico run` and
/// the benches run their work this way (docs/performance.md). A nested call runs `f` in
/// place.
///
/// Do not block inside `f` on another thread that itself waits for the pool (a thread of
/// data-parallel replicas, say): with one worker that would deadlock.
pub fn on_worker<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    rayon::scope(|_| f())
}
