//! [`RowLinear`]: a linear layer applied to the rows of a tensor of any rank as one 2-D
//! matrix product ([`HicoBackend::matmul_bias`]), and [`rms_norm`]: burn's `RmsNorm` module run
//! as [`HicoBackend::rms_norm`].
//!
//! burn's `Linear::forward` on a rank-3 input broadcasts the weight to `[1, in, out]` and
//! runs a batched matmul; on the flex CPU backend that path is far slower than the 2-D one
//! for few rows (measured for a `[1, 1, 896] × [896, 4864]` decode step: 13.5 ms batched vs
//! 0.44 ms as `[1, 896] × [896, 4864]`). Flattening the leading dimensions first gives the
//! same product through the fast path on every backend. On the plain flex backend a product
//! of at most four rows (a decode step) streams the weights once instead
//! ([`hico_kernels::gemv`]); other products on flex, with or without autodiff, run as one
//! gemm call into an output written once ([`hico_kernels::linear`]: burn-flex's matmul
//! zeroes and then copies each output before the product writes it).

use burn::nn::{Linear, RmsNorm};
use burn::tensor::Tensor;

use crate::HicoBackend;

/// `forward_rows`: [`Linear::forward`] over the flattened leading dimensions.
pub trait RowLinear<B: HicoBackend> {
    /// `y = x·W + b` for every row of `x`.
    ///
    /// # Shapes
    /// - `x`: `[..., in]` → `[..., out]`
    fn forward_rows<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D>;
}

impl<B: HicoBackend> RowLinear<B> for Linear<B> {
    fn forward_rows<const D: usize>(&self, x: Tensor<B, D>) -> Tensor<B, D> {
        if D < 2 {
            return self.forward(x);
        }
        let mut dims = x.dims();
        let rows = dims[..D - 1].iter().product::<usize>();
        let x2: Tensor<B, 2> = x.reshape([rows, dims[D - 1]]);
        let y = B::matmul_bias(x2, self.weight.val(), self.bias.as_ref().map(|b| b.val()));
        dims[D - 1] = y.dims()[1];
        y.reshape(dims)
    }
}

/// `norm.forward(x)` as [`HicoBackend::rms_norm`] (on flex one pass over the rows, under
/// autodiff one tracked op with a one-pass backward).
pub fn rms_norm<B: HicoBackend, const D: usize>(
    norm: &RmsNorm<B>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    B::rms_norm(x, norm.gamma.val(), norm.epsilon)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Cpu;
    use burn::nn::LinearConfig;
    use burn::tensor::activation;
    use burn::tensor::{Distribution, Tolerance};

    #[test]
    fn equals_forward_on_every_rank() {
        let dev = Default::default();
        let lin = LinearConfig::new(8, 5).init::<Cpu>(&dev);
        let x = Tensor::<Cpu, 4>::random([2, 3, 4, 8], Distribution::Default, &dev);
        let got = lin.forward_rows(x.clone());
        assert_eq!(got.dims(), [2, 3, 4, 5]);
        got.into_data().assert_approx_eq::<f32>(
            &lin.forward(x.clone()).into_data(),
            Tolerance::absolute(1e-6),
        );
        let x2 = x.reshape([24, 8]);
        lin.forward_rows(x2.clone())
            .into_data()
            .assert_eq(&lin.forward(x2).into_data(), true);
    }

    #[test]
    fn few_rows_take_the_streaming_kernel_and_equal_burn_ops() {
        let dev = Default::default();
        // Wider than one column block of the kernel, with a bias.
        let lin = LinearConfig::new(40, 700).init::<Cpu>(&dev);
        for rows in 1..=4 {
            let x = Tensor::<Cpu, 3>::random([1, rows, 40], Distribution::Default, &dev);
            assert!(
                crate::flex::few_rows_matmul(
                    &x.clone().reshape([rows, 40]),
                    &lin.weight.val(),
                    None
                )
                .is_some()
            );
            lin.forward_rows(x.clone())
                .into_data()
                .assert_approx_eq::<f32>(&lin.forward(x).into_data(), Tolerance::absolute(1e-5));
        }
        // A transposed weight (the tied output head) and a matrix too many rows for it.
        let e = Tensor::<Cpu, 2>::random([700, 40], Distribution::Default, &dev);
        let h = Tensor::<Cpu, 2>::random([2, 40], Distribution::Default, &dev);
        crate::flex::few_rows_matmul(&h, &e.clone().transpose(), None)
            .expect("a transposed view takes the kernel")
            .into_data()
            .assert_approx_eq::<f32>(
                &e.clone()
                    .matmul(h.clone().transpose())
                    .transpose()
                    .into_data(),
                Tolerance::absolute(1e-5),
            );
        let many = Tensor::<Cpu, 2>::random([5, 40], Distribution::Default, &dev);
        assert!(crate::flex::few_rows_matmul(&many, &e.transpose(), None).is_none());
    }

    #[test]
    fn activations_equal_burn_ops_on_flex_and_keep_gradients_under_autodiff() {
        use crate::CpuAutodiff;
        let dev = Default::default();
        let r =
            |dims: [usize; 3]| Tensor::<Cpu, 3>::random(dims, Distribution::Normal(0.0, 3.0), &dev);
        // Contiguous, a contiguous slice with a start offset, and a transposed (strided) view:
        // the first two take the kernel, the third falls back; all equal burn's ops.
        let (g, u) = (r([2, 40, 600]), r([2, 40, 600]));
        let cases = [
            (g.clone(), u.clone()),
            (g.clone().narrow(0, 1, 1), u.clone().narrow(0, 1, 1)),
            (g.clone().swap_dims(1, 2), u.clone().swap_dims(1, 2)),
        ];
        for (g, u) in cases {
            let tol = Tolerance::absolute(1e-5).set_relative(1e-5);
            Cpu::swiglu(g.clone(), u.clone())
                .into_data()
                .assert_approx_eq::<f32>(&(activation::silu(g.clone()) * u).into_data(), tol);
            Cpu::gelu_erf(g.clone())
                .into_data()
                .assert_approx_eq::<f32>(&activation::gelu(g).into_data(), tol);
        }
        assert!(crate::flex::gelu_erf(&g).is_some() && crate::flex::silu_mul(&g, &u).is_some());
        // Autodiff: gradients flow (d/dx gelu(x) at 0 is 0.5).
        let x = Tensor::<CpuAutodiff, 1>::zeros([3], &dev).require_grad();
        let y = Tensor::<CpuAutodiff, 1>::ones([3], &dev);
        let grads = (CpuAutodiff::gelu_erf(x.clone()) + CpuAutodiff::swiglu(x.clone(), y))
            .sum()
            .backward();
        // d/dx silu(x)·1 at 0 is 0.5 as well.
        x.grad(&grads)
            .expect("gradient reaches x")
            .into_data()
            .assert_approx_eq::<f32>(
                &burn::tensor::TensorData::from([1.0f32; 3]),
                Tolerance::absolute(1e-6),
            );
    }

    #[test]
    fn autodiff_kernels_give_burn_ops_values_and_gradients() {
        use crate::CpuAutodiff;
        use burn::nn::RmsNormConfig;
        use burn::tensor::TensorData;
        type A = CpuAutodiff;
        let dev = Default::default();
        let r = |dims: [usize; 3], s: f64| {
            Tensor::<Cpu, 3>::random(dims, Distribution::Normal(0.0, s), &dev)
        };
        // 70 rows of 300 (several kernel tasks); the loss weights are read transposed, so
        // the incoming gradients are strided views.
        let (g0, u0, w0) = (
            r([1, 70, 300], 3.0),
            r([1, 70, 300], 1.0),
            r([1, 300, 70], 1.0),
        );
        let gamma0 = Tensor::<Cpu, 1>::random([300], Distribution::Normal(1.0, 0.3), &dev);
        let mut norm = RmsNormConfig::new(300).with_epsilon(1e-6).init::<A>(&dev);
        norm.gamma =
            burn::module::Param::from_tensor(Tensor::from_inner(gamma0)).set_require_grad(true);
        let run = |kernel: bool| {
            let lift = |t: &Tensor<Cpu, 3>| Tensor::<A, 3>::from_inner(t.clone()).require_grad();
            let (g, u) = (lift(&g0), lift(&u0));
            let w = Tensor::<A, 3>::from_inner(w0.clone()).swap_dims(1, 2);
            let (a, b, c) = if kernel {
                (
                    A::swiglu(g.clone(), u.clone()),
                    A::gelu_erf(g.clone()),
                    rms_norm(&norm, u.clone()),
                )
            } else {
                (
                    activation::silu(g.clone()) * u.clone(),
                    activation::gelu(g.clone()),
                    norm.forward(u.clone()),
                )
            };
            let loss = ((a.clone() + b.clone() * 0.5 + c.clone() * 2.0) * w).sum();
            let grads = loss.backward();
            let values: Vec<TensorData> = [a, b, c]
                .into_iter()
                .map(|t| t.inner().into_data())
                .collect();
            (
                values,
                g.grad(&grads).expect("dg").into_data(),
                u.grad(&grads).expect("du").into_data(),
                norm.gamma.val().grad(&grads).expect("dγ").into_data(),
            )
        };
        let (got, want) = (run(true), run(false));
        let tol = Tolerance::absolute(1e-4).set_relative(1e-4);
        for (a, b) in got.0.iter().zip(&want.0) {
            a.assert_approx_eq::<f32>(b, tol);
        }
        got.1.assert_approx_eq::<f32>(&want.1, tol);
        got.2.assert_approx_eq::<f32>(&want.2, tol);
        got.3.assert_approx_eq::<f32>(&want.3, tol);
        // The kernels did run: under autodiff on flex each answers Some.
        let g = Tensor::<A, 3>::from_inner(g0.clone());
        assert!(crate::autodiff::gelu_erf(&g).is_some());
        assert!(crate::autodiff::silu_mul(&g, &g).is_some());
        assert!(crate::autodiff::rms_norm(&g, &norm.gamma.val(), 1e-6).is_some());
    }
}
