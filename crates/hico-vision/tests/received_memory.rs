//! The attention each token receives (`UmtEncoder::encode_with_attention`, what VisionZip-like
//! methods rank by) is computed a block of query rows at a time: with 2,048 tokens in one clip
//! no allocation reaches one head's `[N, N]` score matrix, and the result equals the encoder's
//! plain output. Measured with the counting allocator of `hico_backend::mem` (exact heap bytes).

use burn::tensor::{Distribution, Tensor};
use hico_backend::mem::{self, Tracking};
use hico_backend::{Cpu, cpu_device};
use hico_core::VisionEncoder;
use hico_core::config::VisionConfig;
use hico_vision::UmtEncoder;

#[global_allocator]
static ALLOC: Tracking = Tracking;

#[test]
fn received_attention_never_holds_an_n_by_n_matrix() {
    assert!(mem::tracking(), "the counting allocator is not installed");
    let cfg = VisionConfig {
        width: 32,
        depth: 2,
        heads: 2,
        mlp_ratio: 4.0,
        patch_size: 16,
        output_blocks: 2,
        ln_eps: 1e-6,
        pos_grid: 4,
        checkpoint: None,
    };
    let dev = cpu_device();
    let enc = UmtEncoder::<Cpu>::new(&cfg, &dev);
    // One clip of 128 frames of 4 × 4 patches: N = 2,048 tokens.
    let clip =
        |frames| Tensor::<Cpu, 5>::random([1, frames, 3, 64, 64], Distribution::Default, &dev);
    enc.encode_with_attention(clip(4)); // set-up (thread pool, lazy parameters) out of the figures
    let x = clip(128);
    let n = 128 * 16;
    let base = mem::reset();
    let (tokens, received) = enc.encode_with_attention(x.clone());
    let s = mem::stats();
    let square = n * n * 4; // one head's f32 score matrix
    eprintln!(
        "largest allocation {} B, peak {} B above the start; one head's N x N: {square} B",
        s.largest,
        s.peak_above(&base)
    );
    assert!(
        s.largest < square / 2,
        "a {}-byte block was allocated: an N x N matrix is {square} bytes",
        s.largest
    );
    assert_eq!(received.dims(), [1, n]);
    let total: f32 = received.sum().into_scalar();
    assert!(
        (total - 1.0).abs() < 1e-3,
        "the received attention sums to {total}"
    );
    let diff = (tokens - enc.encode(x)).abs().max().into_scalar();
    assert!(
        diff == 0.0,
        "encode_with_attention changed the tokens by {diff}"
    );
}
