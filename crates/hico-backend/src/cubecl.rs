//! The cubecl backends (burn-cuda, burn-wgpu), plain and under burn's fusion: attention is
//! burn's fused op where it is exact and its scores fit [`composed::FUSED_SCORES_MAX_BYTES`]
//! ([`composed::fused_within`]: flash attention, autotuned where burn is built with
//! `autotune`), else hico's tiles; every other op is the composed burn ops,
//! whose elementwise chains burn's fusion compiles into single kernels.

use burn::tensor::Tensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};

use crate::composed::{self, FUSED_SCORES_MAX_BYTES};
use crate::{HicoBackend, Mask};

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> HicoBackend
    for CubeBackend<R, F, I, BT>
{
    fn softmax_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        mask: Mask,
        scale: f32,
        block: usize,
    ) -> Tensor<Self, 4> {
        composed::fused_within(q, k, v, mask, scale, block, FUSED_SCORES_MAX_BYTES)
    }
}

#[cfg(feature = "fusion")]
impl<B: burn_fusion::FusionBackend> HicoBackend for burn_fusion::Fusion<B> {
    fn softmax_attention(
        q: Tensor<Self, 4>,
        k: Tensor<Self, 4>,
        v: Tensor<Self, 4>,
        mask: Mask,
        scale: f32,
        block: usize,
    ) -> Tensor<Self, 4> {
        composed::fused_within(q, k, v, mask, scale, block, FUSED_SCORES_MAX_BYTES)
    }
}
