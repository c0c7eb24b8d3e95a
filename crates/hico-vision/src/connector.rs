//! Connectors from the vision width to the LLM width: the paper's `mlp2x_gelu`
//! (Linear, GELU, Linear) and a single `linear` layer.
//!
//! Key map ([`Weights`]): under a prefix `P` (`model.mm_projector.` in a VideoChat-Flash
//! release), `mlp2x_gelu` is `P.mlp.0` (`linear_1`) and `P.mlp.2` (`linear_2`), the
//! reference's `nn.Sequential(Linear, GELU, Linear)`; `linear` is the single `nn.Linear`
//! LLaVA stores directly under the prefix (`P` without its trailing dot: `model.mm_projector.weight`).

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, backend::Backend};
use hico_backend::HicoBackend;
use hico_backend::nn::RowLinear;
use hico_core::config::ConnectorConfig;
use hico_weights::{WeightVisitor, Weights};

/// Linear(d_in → d_out), exact GELU, Linear(d_out → d_out).
#[derive(Module, Debug)]
pub struct Mlp2xGelu<B: Backend> {
    /// First layer, `d_in → d_out`.
    pub linear_1: Linear<B>,
    /// Second layer, `d_out → d_out`.
    pub linear_2: Linear<B>,
}

/// A connector module, chosen by [`ConnectorConfig`].
// One connector lives per model: the size gap between variants costs nothing, and burn's
// `Module` derive wants the module itself in the variant (no `Box`).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Connector<B: Backend> {
    /// Linear, GELU, Linear (the paper's).
    Mlp2xGelu(Mlp2xGelu<B>),
    /// One Linear layer.
    Linear(Linear<B>),
}

impl<B: HicoBackend> Connector<B> {
    /// A randomly initialised connector of the configured kind.
    pub fn new(cfg: &ConnectorConfig, d_in: usize, d_out: usize, device: &Device<B>) -> Self {
        match cfg {
            ConnectorConfig::Mlp2xGelu => Self::Mlp2xGelu(Mlp2xGelu {
                linear_1: LinearConfig::new(d_in, d_out).init(device),
                linear_2: LinearConfig::new(d_out, d_out).init(device),
            }),
            ConnectorConfig::Linear => Self::Linear(LinearConfig::new(d_in, d_out).init(device)),
        }
    }

    /// Map visual tokens to the LLM width.
    ///
    /// # Shapes
    /// - `x`: `[..., d_in]`
    /// - returns `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Self::Mlp2xGelu(m) => m
                .linear_2
                .forward_rows(B::gelu_erf(m.linear_1.forward_rows(x))),
            Self::Linear(l) => l.forward_rows(x),
        }
    }
}

impl<B: HicoBackend> Weights<B> for Connector<B> {
    fn walk<V: WeightVisitor<B>>(&mut self, prefix: &str, v: &mut V) {
        match self {
            Self::Mlp2xGelu(m) => {
                v.linear(&format!("{prefix}mlp.0"), &mut m.linear_1);
                v.linear(&format!("{prefix}mlp.2"), &mut m.linear_2);
            }
            Self::Linear(l) => v.linear(prefix.trim_end_matches('.'), l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::gelu;
    use hico_backend::{Cpu, cpu_device};

    #[test]
    fn shapes_and_gelu() {
        let dev = cpu_device();
        let c = Connector::<Cpu>::new(&ConnectorConfig::Mlp2xGelu, 8, 5, &dev);
        let y = c.forward(Tensor::<Cpu, 3>::ones([2, 3, 8], &dev));
        assert_eq!(y.dims(), [2, 3, 5]);
        let Connector::Mlp2xGelu(m) = &c else {
            panic!("wrong variant")
        };
        // Against a hand-written Linear → GELU → Linear.
        let x = Tensor::<Cpu, 2>::ones([1, 8], &dev);
        let h = x.clone().matmul(m.linear_1.weight.val())
            + m.linear_1.bias.as_ref().unwrap().val().unsqueeze();
        let want = gelu(h).matmul(m.linear_2.weight.val())
            + m.linear_2.bias.as_ref().unwrap().val().unsqueeze();
        let got = c.forward(x);
        got.into_data()
            .assert_approx_eq::<f32>(&want.into_data(), burn::tensor::Tolerance::default());
        let l = Connector::<Cpu>::new(&ConnectorConfig::Linear, 8, 5, &dev);
        assert_eq!(
            l.forward(Tensor::<Cpu, 2>::ones([4, 8], &dev)).dims(),
            [4, 5]
        );
    }
}
