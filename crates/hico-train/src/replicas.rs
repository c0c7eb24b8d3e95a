//! Data-parallel replicas: how a step's gradients and statistics are combined across the
//! copies of the model that train side by side.
//!
//! [`Single`] is one device (nothing to combine). [`Collective`] (feature `ddp`) is one of
//! `world` replicas, each on its own thread and device (several CUDA devices, or several
//! peers sharing the CPU device), combined with burn's own collective all-reduce
//! (`burn::collective`, no hand-written communication). A [`crate::dist::ProcessGroup`] is
//! the third kind (`dist/replica.rs`): one replica per process. Every replica makes the same
//! collective calls in the same order each step (statistics, then each trainable part's
//! gradients, then the end-of-step status), so none waits for a call that never comes.

use burn::{module::AutodiffModule, optim::GradientsParams, tensor::backend::AutodiffBackend};
use hico_backend::HicoAutodiff;

use crate::TrainError;

/// How one replica combines its share of a step with the others'.
pub(crate) trait Replicas<B: AutodiffBackend> {
    /// This replica's index in `0..world`.
    fn rank(&self) -> usize;
    /// Number of replicas.
    fn world(&self) -> usize;
    /// Sum `values` over every replica, in place.
    fn sum(&self, values: &mut [f32]) -> Result<(), TrainError>;
    /// Sum the gradients of `module` over every replica (each has the same parameters).
    fn sum_grads<M: AutodiffModule<B>>(
        &self,
        grads: GradientsParams,
        module: &M,
    ) -> Result<GradientsParams, TrainError>;
}

/// Training on one device.
pub(crate) struct Single;

impl<B: HicoAutodiff> Replicas<B> for Single {
    fn rank(&self) -> usize {
        0
    }
    fn world(&self) -> usize {
        1
    }
    fn sum(&self, _values: &mut [f32]) -> Result<(), TrainError> {
        Ok(())
    }
    fn sum_grads<M: AutodiffModule<B>>(
        &self,
        grads: GradientsParams,
        _module: &M,
    ) -> Result<GradientsParams, TrainError> {
        Ok(grads)
    }
}

/// Positions `p` in `from..to` that replica `rank` of `world` trains on (`p % world == rank`).
pub(crate) fn share(from: usize, to: usize, rank: usize, world: usize) -> usize {
    let below = |x: usize| (x + world - 1 - rank) / world;
    below(to) - below(from)
}

#[cfg(feature = "ddp")]
pub(crate) use collective::{Collective, CollectiveSetup};

#[cfg(feature = "ddp")]
mod collective {
    use burn::{
        collective::{
            self, AllReduceStrategy, CollectiveConfig, PeerId, ReduceOperation, all_reduce,
        },
        module::{AutodiffModule, ModuleVisitor, Param},
        optim::GradientsParams,
        tensor::{Tensor, TensorData, TensorPrimitive, backend::AutodiffBackend},
    };

    use super::Replicas;
    use crate::TrainError;

    /// Registers a zero gradient for every trainable parameter that has none, so that every
    /// replica all-reduces the same parameter list (a replica whose samples were all skipped
    /// has no gradients at all).
    struct ZeroFill<'a, B: AutodiffBackend> {
        grads: &'a mut GradientsParams,
        _b: std::marker::PhantomData<B>,
    }

    impl<B: AutodiffBackend> ModuleVisitor<B> for ZeroFill<'_, B> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let value = param.val();
            if value.is_require_grad() && self.grads.get::<B::InnerBackend, D>(param.id).is_none() {
                self.grads.register(param.id, value.inner().zeros_like());
            }
        }
    }

    /// Complete `grads` with zeros for every trainable parameter of `module` it lacks.
    fn zero_fill<B: AutodiffBackend, M: AutodiffModule<B>>(
        mut grads: GradientsParams,
        module: &M,
    ) -> GradientsParams {
        module.visit(&mut ZeroFill::<B> {
            grads: &mut grads,
            _b: std::marker::PhantomData,
        });
        grads
    }

    /// What every replica of one run registers with (must be equal on all of them).
    #[derive(Debug, Clone)]
    pub(crate) struct CollectiveSetup {
        config: CollectiveConfig,
    }

    impl CollectiveSetup {
        /// A run of `world` replicas in this process.
        pub(crate) fn new(world: usize) -> Self {
            Self {
                config: CollectiveConfig::default()
                    .with_num_devices(world)
                    .with_local_all_reduce_strategy(AllReduceStrategy::Tree(2)),
            }
        }
    }

    fn err(what: &str, e: impl std::fmt::Debug) -> TrainError {
        TrainError::Replica(format!("{what}: {e:?}"))
    }

    /// One replica of a data-parallel run; unregisters when dropped.
    pub(crate) struct Collective<B: AutodiffBackend> {
        id: PeerId,
        rank: usize,
        world: usize,
        device: B::Device,
    }

    impl<B: AutodiffBackend> Collective<B> {
        /// Register replica `rank` on `device`; returns once every replica has registered.
        pub(crate) fn register(
            setup: &CollectiveSetup,
            rank: usize,
            world: usize,
            device: &B::Device,
        ) -> Result<Self, TrainError> {
            let id = PeerId::from(rank);
            collective::register::<B::InnerBackend>(id, device.clone(), setup.config.clone())
                .map_err(|e| err(&format!("registering replica {rank}"), e))?;
            Ok(Self {
                id,
                rank,
                world,
                device: device.clone(),
            })
        }
    }

    impl<B: AutodiffBackend> Drop for Collective<B> {
        fn drop(&mut self) {
            let _ = collective::finish_collective::<B::InnerBackend>(self.id);
        }
    }

    impl<B: AutodiffBackend> Replicas<B> for Collective<B> {
        fn rank(&self) -> usize {
            self.rank
        }
        fn world(&self) -> usize {
            self.world
        }
        fn sum(&self, values: &mut [f32]) -> Result<(), TrainError> {
            let n = values.len();
            let t = Tensor::<B::InnerBackend, 1>::from_data(
                TensorData::new(values.to_vec(), [n]),
                &self.device,
            );
            let summed = all_reduce::<B::InnerBackend>(
                self.id,
                t.into_primitive().tensor(),
                ReduceOperation::Sum,
            )
            .map_err(|e| err("summing step statistics", e))?;
            let summed =
                Tensor::<B::InnerBackend, 1>::from_primitive(TensorPrimitive::Float(summed))
                    .into_data()
                    .convert::<f32>();
            values.copy_from_slice(summed.as_slice::<f32>().map_err(|e| err("statistics", e))?);
            Ok(())
        }
        fn sum_grads<M: AutodiffModule<B>>(
            &self,
            grads: GradientsParams,
            module: &M,
        ) -> Result<GradientsParams, TrainError> {
            zero_fill::<B, M>(grads, module)
                .all_reduce::<B::InnerBackend>(self.id, ReduceOperation::Sum)
                .map_err(|e| err("summing gradients", e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::share;

    #[test]
    fn shares_partition_every_range() {
        for world in 1..5 {
            for from in 0..9 {
                for to in from..13 {
                    let total: usize = (0..world).map(|r| share(from, to, r, world)).sum();
                    assert_eq!(total, to - from, "{from}..{to} over {world}");
                    for r in 0..world {
                        let want = (from..to).filter(|p| p % world == r).count();
                        assert_eq!(share(from, to, r, world), want);
                    }
                }
            }
        }
    }
}
