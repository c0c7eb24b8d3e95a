//! hico's composed tiled attention (online softmax over key tiles, grouped-query heads
//! stacked as rows) and burn's fused attention on wgpu, against the explicit
//! softmax(QKᵀ/√d)·V computed on flex: prefill shapes across tile boundaries, a decode step
//! at an offset into a longer cache, and the vision encoder's unmasked form.

use burn::tensor::activation::softmax;
use burn::tensor::module::attention as fused;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Int, Tensor, TensorData};
use hico_core::config::AttentionImpl;
use hico_llm::AttentionOptions;
use hico_llm::attention::decoder_attention;

use super::common::{Cpu, Gpu, close, cpu, gpu, values};

/// Outputs are convex combinations of values in [-1, 1]; f32 on both sides, the softmax
/// sums ordered differently (tiles, a fused kernel's blocks).
const TOL: f32 = 2e-5;

/// Deterministic values in [-1, 1] of `shape`.
fn data(shape: [usize; 4], seed: usize) -> TensorData {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| ((i * 7919 + seed * 104729) % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    TensorData::new(v, shape)
}

/// The explicit product on flex: query row `i` sees keys `..= offset + i` (all when not
/// `causal`); key head `j / (heads / kv)` serves query head `j`.
fn reference(
    q: &TensorData,
    k: &TensorData,
    v: &TensorData,
    offset: usize,
    causal: bool,
) -> Vec<f32> {
    let d = cpu();
    let q = Tensor::<Cpu, 4>::from_data(q.clone(), &d);
    let (k, v) = (
        Tensor::<Cpu, 4>::from_data(k.clone(), &d),
        Tensor::<Cpu, 4>::from_data(v.clone(), &d),
    );
    let [_, heads, lq, hd] = q.dims();
    let [_, kv, lk, _] = k.dims();
    let k = hico_llm::attention::repeat_kv(k, heads / kv);
    let v = hico_llm::attention::repeat_kv(v, heads / kv);
    let mut s = q
        .mul_scalar(1.0 / (hd as f64).sqrt())
        .matmul(k.swap_dims(2, 3));
    if causal {
        let qi =
            Tensor::<Cpu, 1, Int>::arange(offset as i64..(offset + lq) as i64, &d).reshape([lq, 1]);
        let ki = Tensor::<Cpu, 1, Int>::arange(0..lk as i64, &d).reshape([1, lk]);
        let m: Tensor<Cpu, 2, Bool> = ki.expand([lq, lk]).greater(qi.expand([lq, lk]));
        s = s.mask_fill(m.unsqueeze::<4>().expand([1, heads, lq, lk]), -1e30);
    }
    values(softmax(s, 3).matmul(v))
}

fn gpu4(x: &TensorData) -> Tensor<Gpu, 4> {
    Tensor::from_data(x.clone(), &gpu())
}

#[test]
fn composed_and_fused_causal_attention_match_the_explicit_product() {
    // (heads, kv heads, length, head dim, tile of hico's own attention)
    for (h, kv, l, hd, block) in [
        (4, 2, 128, 32, 256),
        (4, 2, 300, 16, 128),
        (6, 2, 97, 32, 32),
        (4, 4, 64, 64, 16),
    ] {
        let (q, k, v) = (
            data([1, h, l, hd], 1),
            data([1, kv, l, hd], 2),
            data([1, kv, l, hd], 3),
        );
        let want = reference(&q, &k, &v, 0, true);
        let what = format!("attention causal [1, {h}/{kv}, {l}, {hd}]");
        let composed = AttentionOptions {
            implementation: AttentionImpl::Composed,
            block,
        };
        let own = decoder_attention(gpu4(&q), gpu4(&k), gpu4(&v), 0, &composed);
        close(
            &format!("{what} composed (tile {block})"),
            &values(own),
            &want,
            TOL,
        );
        let opts = AttentionOptions {
            implementation: AttentionImpl::Fused,
            block,
        };
        let f = decoder_attention(gpu4(&q), gpu4(&k), gpu4(&v), 0, &opts);
        close(&format!("{what} burn fused"), &values(f), &want, TOL);
    }
}

#[test]
fn a_decode_step_attends_to_the_cache_prefix_only() {
    // One query at position 200 of a 256-slot cache (slots past it hold garbage).
    let (h, kv, lk, hd, offset) = (4, 2, 256, 32, 200);
    let (q, k, v) = (
        data([1, h, 1, hd], 4),
        data([1, kv, lk, hd], 5),
        data([1, kv, lk, hd], 6),
    );
    let want = reference(&q, &k, &v, offset, true);
    for imp in [AttentionImpl::Own, AttentionImpl::Fused] {
        let opts = AttentionOptions {
            implementation: imp,
            block: 64,
        };
        let got = decoder_attention(gpu4(&q), gpu4(&k), gpu4(&v), offset, &opts);
        close(
            &format!("attention decode step at {offset} ({imp:?})"),
            &values(got),
            &want,
            TOL,
        );
    }
}

#[test]
fn the_encoders_unmasked_fused_attention_matches_the_explicit_product() {
    let (q, k, v) = (
        data([2, 4, 196, 32], 7),
        data([2, 4, 196, 32], 8),
        data([2, 4, 196, 32], 9),
    );
    let want = reference(&q, &k, &v, 0, false);
    let got = fused(
        gpu4(&q),
        gpu4(&k),
        gpu4(&v),
        None,
        None,
        AttentionModuleOptions::default(),
    );
    close(
        "attention unmasked [2, 4, 196, 32] burn fused",
        &values(got),
        &want,
        TOL,
    );
}
