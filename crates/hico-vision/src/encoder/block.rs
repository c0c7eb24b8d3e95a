//! One pre-norm transformer block of UMT (`umt/vit.py`, `Block`): LayerNorm (eps from the
//! config, 1e-6 for UMT-L), multi-head self-attention over every token of the clip, a
//! GELU MLP, no layer scale (`init_values = 0` in the reference). The qkv projection has no
//! bias of its own; the reference adds `cat(q_bias, 0, v_bias)` (no key bias).

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{
    Device, Tensor, activation::softmax, backend::Backend, module::attention as fused,
    ops::AttentionModuleOptions,
};
use hico_backend::nn::RowLinear;
use hico_backend::{HicoBackend, Mask};
use hico_core::config::AttentionImpl;

/// Self-attention with the reference's `q_bias` / `v_bias` layout.
#[derive(Module, Debug)]
pub struct Attention<B: Backend> {
    /// Fused q, k, v projection `[D, 3D]` without bias.
    pub qkv: Linear<B>,
    /// Query bias `[D]`.
    pub q_bias: Param<Tensor<B, 1>>,
    /// Value bias `[D]`.
    pub v_bias: Param<Tensor<B, 1>>,
    /// Output projection `[D, D]` with bias.
    pub proj: Linear<B>,
    /// Number of heads.
    pub heads: usize,
    /// Inference attention (`[llm] attention`, set through
    /// [`crate::UmtEncoder::with_attention`]): `own` (default) hico's CPU kernel where the
    /// backend has it, `composed` the explicit product of burn ops, `fused` burn's fused op.
    /// Under autodiff on flex the kernel with its own backward; under autodiff elsewhere the
    /// explicit product. Not a parameter: not in records.
    #[module(skip)]
    pub attention: AttentionImpl,
}

impl<B: HicoBackend> Attention<B> {
    /// Random init (biases zero, as the reference).
    pub fn new(width: usize, heads: usize, device: &Device<B>) -> Self {
        Self {
            qkv: LinearConfig::new(width, 3 * width)
                .with_bias(false)
                .init(device),
            q_bias: Param::from_tensor(Tensor::zeros([width], device)),
            v_bias: Param::from_tensor(Tensor::zeros([width], device)),
            proj: LinearConfig::new(width, width).init(device),
            heads,
            attention: AttentionImpl::Own,
        }
    }

    /// Queries, keys and values, each `[B, H, N, hd]`.
    fn qkv(&self, x: Tensor<B, 3>) -> (Tensor<B, 4>, Tensor<B, 4>, Tensor<B, 4>) {
        let [b, n, d] = x.dims();
        let (h, hd) = (self.heads, d / self.heads);
        let zeros = Tensor::zeros([d], &x.device());
        let bias = Tensor::cat(vec![self.q_bias.val(), zeros, self.v_bias.val()], 0);
        let qkv = self.qkv.forward_rows(x) + bias.unsqueeze::<3>();
        // [B, N, 3, H, hd] → three [B, H, N, hd]
        let qkv = qkv.reshape([b, n, 3, h, hd]);
        let part = |i: usize| {
            qkv.clone()
                .slice([0..b, 0..n, i..i + 1, 0..h, 0..hd])
                .reshape([b, n, h, hd])
                .swap_dims(1, 2)
        };
        (part(0), part(1), part(2))
    }

    /// # Shapes
    /// - `x`: `[B, N, D]`; returns `[B, N, D]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, n, d] = x.dims();
        let (q, k, v) = self.qkv(x);
        // `attention = "fused"` at inference: the backend's fused attention (a flash kernel
        // on burn-cuda with autotune), scale hd^-0.5 as the reference.
        let attention = if B::ad_enabled(&q.device()) {
            AttentionImpl::Composed
        } else {
            self.attention
        };
        let out = attend(q, k, v, attention); // [B, H, N, hd]
        self.proj
            .forward_rows(out.swap_dims(1, 2).reshape([b, n, d]))
    }
}

/// Query rows per block of [`Attention::received`]: its largest buffer is
/// `[B, H, RECEIVED_ROWS, N]`, never `[B, H, N, N]`.
pub const RECEIVED_ROWS: usize = 128;

impl<B: HicoBackend> Attention<B> {
    /// The attention each token receives: column sums of `softmax(q·kᵀ/√hd)` averaged over
    /// heads and query tokens (what VisionZip ranks by when the encoder has no CLS token),
    /// computed [`RECEIVED_ROWS`] query rows at a time.
    ///
    /// # Shapes
    /// - `x`: `[B, N, D]` (the block's normalised input); returns `[B, N]`, each row summing to 1
    pub fn received(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        let (q, k, _) = self.qkv(x);
        let [b, h, n, hd] = q.dims();
        let kt = k.swap_dims(2, 3);
        let scale = (hd as f64).powf(-0.5);
        let mut acc = Tensor::<B, 2>::zeros([b, n], &q.device());
        for r0 in (0..n).step_by(RECEIVED_ROWS) {
            let r1 = (r0 + RECEIVED_ROWS).min(n);
            let rows = q
                .clone()
                .slice([0..b, 0..h, r0..r1, 0..hd])
                .mul_scalar(scale);
            let p = softmax(rows.matmul(kt.clone()), 3); // [B, H, rows, N]
            acc = acc + p.sum_dim(2).sum_dim(1).reshape([b, n]);
        }
        acc.div_scalar((h * n) as f64)
    }
}

/// `softmax(q·kᵀ / √hd)·v` over every token: burn's fused op (`Fused`), hico's CPU kernel
/// (`Own`, where the backend has it) or the explicit product of burn ops.
///
/// # Shapes
/// - `q`, `k`, `v`: `[B, H, N, hd]`; returns `[B, H, N, hd]`
fn attend<B: HicoBackend>(
    q: Tensor<B, 4>,
    k: Tensor<B, 4>,
    v: Tensor<B, 4>,
    attention: AttentionImpl,
) -> Tensor<B, 4> {
    if attention == AttentionImpl::Fused {
        return fused(q, k, v, None, None, AttentionModuleOptions::default());
    }
    let (scale, n) = ((q.dims()[3] as f32).powf(-0.5), k.dims()[2]);
    // One tile of every key: the explicit product where the backend has no kernel.
    match attention {
        AttentionImpl::Own => B::softmax_attention(q, k, v, Mask::None, scale, n),
        _ => hico_backend::composed::attention(q, k, v, Mask::None, scale, n),
    }
}

/// The MLP: `fc1` (D → ratio·D), exact GELU, `fc2` (back to D).
#[derive(Module, Debug)]
pub struct Mlp<B: Backend> {
    /// First layer.
    pub fc1: Linear<B>,
    /// Second layer.
    pub fc2: Linear<B>,
}

/// A pre-norm block: `x + attn(norm1(x))`, then `x + mlp(norm2(x))`.
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// Norm before attention.
    pub norm1: LayerNorm<B>,
    /// Attention.
    pub attn: Attention<B>,
    /// Norm before the MLP.
    pub norm2: LayerNorm<B>,
    /// The MLP.
    pub mlp: Mlp<B>,
}

impl<B: HicoBackend> Block<B> {
    /// Random init.
    pub fn new(width: usize, heads: usize, hidden: usize, eps: f64, device: &Device<B>) -> Self {
        let norm = || LayerNormConfig::new(width).with_epsilon(eps).init(device);
        Self {
            norm1: norm(),
            attn: Attention::new(width, heads, device),
            norm2: norm(),
            mlp: Mlp {
                fc1: LinearConfig::new(width, hidden).init(device),
                fc2: LinearConfig::new(hidden, width).init(device),
            },
        }
    }

    /// The attention each token receives in this block ([`Attention::received`]).
    ///
    /// # Shapes
    /// - `x`: `[B, N, D]` (the block's input); returns `[B, N]`
    pub fn received(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.attn.received(self.norm1.forward(x))
    }

    /// # Shapes
    /// - `x`: `[B, N, D]`; returns `[B, N, D]`
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let x = x.clone() + self.attn.forward(self.norm1.forward(x));
        let h = self.mlp.fc2.forward_rows(B::gelu_erf(
            self.mlp.fc1.forward_rows(self.norm2.forward(x.clone())),
        ));
        x + h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;
    use hico_backend::Cpu;

    /// burn's fused op, hico's CPU kernel and the explicit product agree, also past the CPU
    /// backend's switch to its tiled loop (600 × 600 > 256K scores) and across the kernel's
    /// key chunks, on a batch of two.
    #[test]
    fn fused_op_and_kernel_equal_the_explicit_product() {
        let dev = Default::default();
        let r = |n| Tensor::<Cpu, 4>::random([2, 4, n, 16], Distribution::Normal(0.0, 1.0), &dev);
        for n in [50, 600] {
            let (q, k, v) = (r(n), r(n), r(n));
            let want = attend(q.clone(), k.clone(), v.clone(), AttentionImpl::Composed);
            let kernel = attend(q.clone(), k.clone(), v.clone(), AttentionImpl::Own);
            let got = attend(q, k, v, AttentionImpl::Fused);
            for got in [got, kernel] {
                got.into_data().assert_approx_eq::<f32>(
                    &want.clone().into_data(),
                    burn::tensor::Tolerance::absolute(1e-5),
                );
            }
        }
    }

    /// The blocked column sums equal those of the whole `[N, N]` softmax, past one block.
    #[test]
    fn received_attention_equals_the_whole_softmax_column_mean() {
        let dev = Default::default();
        let attn = Attention::<Cpu>::new(16, 2, &dev);
        let n = RECEIVED_ROWS + 37;
        let x = Tensor::<Cpu, 3>::random([2, n, 16], Distribution::Normal(0.0, 1.0), &dev);
        let got = attn.received(x.clone());
        let (q, k, _) = attn.qkv(x);
        let p = softmax(q.mul_scalar(8f64.powf(-0.5)).matmul(k.swap_dims(2, 3)), 3);
        let want = p
            .sum_dim(2)
            .sum_dim(1)
            .reshape([2, n])
            .div_scalar((2 * n) as f64);
        got.clone()
            .into_data()
            .assert_approx_eq::<f32>(&want.into_data(), burn::tensor::Tolerance::absolute(1e-6));
        let total: f32 = got.sum().into_scalar();
        assert!((total - 2.0).abs() < 1e-4, "rows sum to {total}");
    }
}
