//! A [`ProcessGroup`] as the step loop's [`Replicas`]: statistics are summed as they are;
//! gradients are flattened into one vector per trainable part, in the module's visit order
//! (the same in every process, unlike parameter ids, which each process draws itself),
//! summed, and put back. Before the first step the ranks check that they start alike.

use burn::{
    module::{AutodiffModule, Module, ModuleVisitor, Param},
    optim::GradientsParams,
    tensor::{ElementConversion, Tensor, TensorData, backend::AutodiffBackend},
};
use hico_backend::HicoAutodiff;

use super::ProcessGroup;
use crate::{TrainError, replicas::Replicas};

impl<B: HicoAutodiff> Replicas<B> for ProcessGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world(&self) -> usize {
        self.world
    }
    fn sum(&self, values: &mut [f32]) -> Result<(), TrainError> {
        let summed = ProcessGroup::sum(self, "summing step statistics", values.to_vec())?;
        values.copy_from_slice(&summed);
        Ok(())
    }
    fn sum_grads<M: AutodiffModule<B>>(
        &self,
        grads: GradientsParams,
        module: &M,
    ) -> Result<GradientsParams, TrainError> {
        let mut flat = Flatten::<B> {
            grads: &grads,
            flat: Vec::new(),
            _b: std::marker::PhantomData,
        };
        module.visit(&mut flat);
        let summed = ProcessGroup::sum(self, "summing gradients", flat.flat)?;
        let mut back = Unflatten::<B> {
            flat: &summed,
            at: 0,
            grads: GradientsParams::new(),
            _b: std::marker::PhantomData,
        };
        module.visit(&mut back);
        Ok(back.grads)
    }
}

/// Appends the gradient of every trainable parameter (zeros where there is none: a rank
/// whose samples were all skipped has no gradients).
struct Flatten<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    flat: Vec<f32>,
    _b: std::marker::PhantomData<B>,
}

impl<B: HicoAutodiff> ModuleVisitor<B> for Flatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        if !value.is_require_grad() {
            return;
        }
        match self.grads.get::<B::InnerBackend, D>(param.id) {
            Some(g) => self
                .flat
                .extend(g.into_data().convert::<f32>().iter::<f32>()),
            None => self
                .flat
                .extend(std::iter::repeat_n(0.0, value.shape().num_elements())),
        }
    }
}

/// Registers the summed gradient of every trainable parameter, reading `flat` in order.
struct Unflatten<'a, B: AutodiffBackend> {
    flat: &'a [f32],
    at: usize,
    grads: GradientsParams,
    _b: std::marker::PhantomData<B>,
}

impl<B: HicoAutodiff> ModuleVisitor<B> for Unflatten<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let value = param.val();
        if !value.is_require_grad() {
            return;
        }
        let shape = value.shape();
        let n = shape.num_elements();
        let data = TensorData::new(self.flat[self.at..self.at + n].to_vec(), shape);
        self.at += n;
        let grad =
            Tensor::<B::InnerBackend, D>::from_data(data, &value.device()).cast(value.dtype());
        self.grads.register(param.id, grad);
    }
}

/// Sum of every parameter value, as a cheap fingerprint of a model's weights.
struct Checksum(f64);

impl<B: burn::tensor::backend::Backend> ModuleVisitor<B> for Checksum {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.0 += param.val().sum().into_scalar().elem::<f64>();
    }
}

/// Fail on every rank unless every rank starts at rank 0's step with rank 0's weights
/// (checked by a checksum of the weights).
pub(crate) fn check_same_start<B: HicoAutodiff, M: Module<B>>(
    group: &ProcessGroup,
    step: usize,
    model: &M,
) -> Result<(), TrainError> {
    let mut sum = Checksum(0.0);
    model.visit(&mut sum);
    let mine = [step as f32, sum.0 as f32];
    // Rank 0's values: every other rank adds zeros.
    let lead = group.sum(
        "comparing starting points",
        match group.rank {
            0 => mine.to_vec(),
            _ => vec![0.0; 2],
        },
    )?;
    let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
    let differs = !(same(lead[0], mine[0]) && same(lead[1], mine[1]));
    let mut flags = vec![0.0; group.world];
    flags[group.rank] = f32::from(u8::from(differs));
    let flags = group.sum("comparing starting points", flags)?;
    let bad: Vec<usize> = (0..group.world).filter(|&r| flags[r] > 0.0).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let this = match group.rank {
        0 => String::new(),
        r => format!("; rank {r}: step {}, checksum {}", mine[0], mine[1]),
    };
    Err(TrainError::Replica(format!(
        "ranks {bad:?} do not start where rank 0 does (rank 0: step {}, weight checksum {}{this}): every rank needs the same configs, --init and output folder (checkpoints to resume)",
        lead[0], lead[1]
    )))
}
