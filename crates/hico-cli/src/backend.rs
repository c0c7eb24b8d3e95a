//! `--device`: choose a compiled-in burn backend and run a generic job on it.
//!
//! Jobs are written once over `B: Backend` (inference) or `B: AutodiffBackend` (training)
//! and implement [`Job`]; [`dispatch`] instantiates them for the backend the user chose.

use anyhow::{Result, bail};
use burn::tensor::Device;
use hico_backend::HicoAutodiff;

/// A device choice on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceArg {
    /// burn's flex backend on the CPU (rayon + SIMD), always compiled.
    Cpu,
    /// burn-cuda on the first NVIDIA GPU (cargo feature `cuda`).
    Cuda,
    /// burn-wgpu on the default adapter (cargo feature `wgpu`).
    Wgpu,
}

/// A job generic over the backend. Inference jobs ignore the autodiff wrapper's cost:
/// nothing requires gradients unless the job asks for it.
pub trait Job {
    /// What the job returns.
    type Output;
    /// Run on backend `B` and `device`.
    fn run<B: HicoAutodiff>(self, device: Device<B>) -> Result<Self::Output>;
}

/// Floating-point precision of the backend's tensors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Precision {
    /// 32-bit floats (parity and CPU default).
    #[default]
    F32,
    /// bfloat16 (GPU inference and benchmarks).
    Bf16,
}

/// Run `job` on the backend named by `device`, or fail naming the cargo feature to enable.
pub fn dispatch<J: Job>(device: DeviceArg, job: J) -> Result<J::Output> {
    dispatch_with(device, Precision::F32, job)
}

/// [`dispatch`] with a choice of float precision.
pub fn dispatch_with<J: Job>(device: DeviceArg, precision: Precision, job: J) -> Result<J::Output> {
    use burn::backend::{Autodiff, Flex};
    match (device, precision) {
        (DeviceArg::Cpu, Precision::F32) => job.run::<Autodiff<Flex>>(Default::default()),
        (DeviceArg::Cpu, Precision::Bf16) => {
            bail!("--precision bf16 needs a GPU backend (--device cuda)")
        }
        (DeviceArg::Cuda, _p) => {
            #[cfg(feature = "cuda-plain")]
            {
                use burn::backend::Cuda;
                match _p {
                    Precision::F32 => job.run::<Autodiff<Cuda>>(Default::default()),
                    Precision::Bf16 => job.run::<Autodiff<Cuda<half::bf16>>>(Default::default()),
                }
            }
            #[cfg(not(feature = "cuda-plain"))]
            {
                bail!(
                    "--device cuda: this hico was built without CUDA; rebuild with `cargo build --release --features cuda`"
                )
            }
        }
        (DeviceArg::Wgpu, _p) => {
            #[cfg(feature = "wgpu")]
            {
                use burn::backend::Wgpu;
                match _p {
                    Precision::F32 => job.run::<Autodiff<Wgpu>>(Default::default()),
                    Precision::Bf16 => bail!("--precision bf16 is not supported on wgpu"),
                }
            }
            #[cfg(not(feature = "wgpu"))]
            {
                bail!(
                    "--device wgpu: this hico was built without wgpu; rebuild with `cargo build --release --features wgpu`"
                )
            }
        }
    }
}
