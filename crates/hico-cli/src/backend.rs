//! `--device`: choose a compiled-in burn backend and run a generic job on it.
//!
//! Jobs are written once over `B: Backend` (inference) or `B: AutodiffBackend` (training)
//! and implement [`Job`]; [`dispatch`] instantiates them for the backend the user chose.

use anyhow::{Result, bail};
use burn::tensor::{Device, backend::AutodiffBackend};

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
    fn run<B: AutodiffBackend>(self, device: Device<B>) -> Result<Self::Output>;
}

/// Run `job` on the backend named by `device`, or fail naming the cargo feature to enable.
pub fn dispatch<J: Job>(device: DeviceArg, job: J) -> Result<J::Output> {
    match device {
        DeviceArg::Cpu => {
            job.run::<burn::backend::Autodiff<burn::backend::Flex>>(Default::default())
        }
        DeviceArg::Cuda => {
            #[cfg(feature = "cuda")]
            {
                job.run::<burn::backend::Autodiff<burn::backend::Cuda>>(Default::default())
            }
            #[cfg(not(feature = "cuda"))]
            {
                bail!(
                    "--device cuda: this hico was built without CUDA; rebuild with `cargo build --release --features cuda`"
                )
            }
        }
        DeviceArg::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                job.run::<burn::backend::Autodiff<burn::backend::Wgpu>>(Default::default())
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
