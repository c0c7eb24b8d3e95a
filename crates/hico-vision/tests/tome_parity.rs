//! ToMe parity: hico's `tome` against the reference rule run in PyTorch
//! (`scripts/make_vision_fixtures.py`, cross-checked against `tome16_mlp_hd64.py`):
//! merged features within 1e-5, sizes, and the exact membership and output order.
//! `tome_ordered` must give the same tokens, sorted by first member.

mod common;

use burn::tensor::{Tensor, TensorData};
use common::{Fixture, max_diff};
use hico_backend::{Cpu, cpu_device};
use hico_core::{ClipCompressor, PatchGrid};
use hico_vision::compressor::Tome;

const CASES: [&str; 5] = [
    "f4_4x4_t4",
    "f4_4x4_t5",
    "f4_7x7_t16",
    "f4_7x7_t3",
    "f4_14x14_t16",
];

fn check(name: &str, fx: &Fixture) {
    let (shape, input) = fx.f32(&format!("{name}.input"));
    let (_, want) = fx.f32(&format!("{name}.features"));
    let (_, want_sizes) = fx.f32(&format!("{name}.sizes"));
    let (_, assign) = fx.i64(&format!("{name}.assign"));
    let (_, meta) = fx.i64(&format!("{name}.meta"));
    let (c, n, d) = (shape[0], shape[1], shape[2]);
    let grid = PatchGrid {
        frames: meta[0] as usize,
        h: meta[1] as usize,
        w: meta[2] as usize,
    };
    // The fixture's metric averages groups of 64 channels: D / 64 heads.
    let heads = (d / 64).max(1);
    let tome = Tome::new(meta[3] as usize, false, heads);
    let k = ClipCompressor::<Cpu>::output_tokens(&tome, &grid);
    let x = Tensor::<Cpu, 3>::from_data(TensorData::new(input, [c, n, d]), &cpu_device());
    let out = ClipCompressor::<Cpu>::compress(&tome, x.clone(), &grid);
    assert_eq!(out.features.dims(), [c, k, d], "{name}");

    // Exact membership and order.
    for ci in 0..c {
        let mut want_members = vec![Vec::new(); k];
        for (i, &j) in assign[ci * n..(ci + 1) * n].iter().enumerate() {
            want_members[j as usize].push(i as u32);
        }
        assert_eq!(
            out.members[ci], want_members,
            "{name} clip {ci}: membership/order"
        );
        let sizes: Vec<f32> = out.members[ci].iter().map(|m| m.len() as f32).collect();
        assert_eq!(
            sizes,
            want_sizes[ci * k..(ci + 1) * k],
            "{name} clip {ci}: sizes"
        );
    }
    let got = out.features.into_data().into_vec::<f32>().unwrap();
    let diff = max_diff(&got, &want);
    assert!(diff < 1e-5, "{name}: max |diff| {diff}");

    // tome_ordered: same tokens, space-time order.
    let ordered =
        ClipCompressor::<Cpu>::compress(&Tome::new(meta[3] as usize, true, heads), x, &grid);
    let got_o = ordered.features.into_data().into_vec::<f32>().unwrap();
    for ci in 0..c {
        let firsts: Vec<u32> = ordered.members[ci].iter().map(|m| m[0]).collect();
        assert!(
            firsts.windows(2).all(|w| w[0] < w[1]),
            "{name}: not space-time ordered"
        );
        for (jo, m) in ordered.members[ci].iter().enumerate() {
            let j = out.members[ci]
                .iter()
                .position(|x| x == m)
                .expect("same merges");
            let a = &got_o[(ci * k + jo) * d..(ci * k + jo + 1) * d];
            let b = &got[(ci * k + j) * d..(ci * k + j + 1) * d];
            assert_eq!(a, b, "{name}: ordered token {jo} differs");
        }
    }
}

#[test]
fn tome_matches_reference_rule() {
    let fx = Fixture::open("tome.safetensors");
    for name in CASES {
        check(name, &fx);
    }
}
