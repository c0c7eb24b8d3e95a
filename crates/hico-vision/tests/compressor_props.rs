//! Properties every clip compressor must keep, on several grids and budgets: output count
//! equals the budget, sizes sum to the input count, provenance covers every input patch
//! exactly once, every output token is the mean of its members, and gradients reach every
//! input (`d Σ out / d x_i = 1 / size(token of i)`). Plus: `temporal` on a clip of
//! identical frames merges along time before space; each kind builds from one TOML line.

use burn::tensor::{Tensor, TensorData};
use hico_backend::HicoBackend;
use hico_backend::{Cpu, CpuAutodiff};
use hico_core::config::CompressorConfig;
use hico_core::{PatchGrid, Provenance, VisualToken};
use hico_vision::build_compressor;

/// Deterministic pseudo-random values in [-1, 1).
fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn configs(tpf: usize) -> Vec<CompressorConfig> {
    vec![
        CompressorConfig::Identity,
        CompressorConfig::Tome {
            tokens_per_frame: tpf,
        },
        CompressorConfig::TomeOrdered {
            tokens_per_frame: tpf,
        },
        CompressorConfig::Pool {
            tokens_per_frame: tpf,
        },
        CompressorConfig::Temporal {
            tokens_per_frame: tpf,
            threshold: 0.9,
        },
    ]
}

fn tensor<B: HicoBackend>(data: Vec<f32>, dims: [usize; 3]) -> Tensor<B, 3> {
    Tensor::from_data(TensorData::new(data, dims), &Default::default())
}

#[test]
fn invariants_hold_for_every_compressor() {
    let grids = [(4, 4, 4, 4), (4, 7, 7, 16), (2, 3, 5, 1), (4, 14, 14, 16)];
    for (gi, &(frames, h, w, tpf)) in grids.iter().enumerate() {
        let grid = PatchGrid { frames, h, w };
        let (c, n, d) = (2, grid.per_clip(), 8);
        let x = noise(c * n * d, gi as u64);
        for cfg in configs(tpf) {
            let comp = build_compressor::<Cpu>(&cfg, 2);
            let k = comp.output_tokens(&grid);
            let budget = match cfg {
                CompressorConfig::Identity => n,
                _ => tpf * frames,
            };
            assert_eq!(k, budget, "{} {grid:?}", cfg.kind());
            let out = comp.compress(tensor(x.clone(), [c, n, d]), &grid);
            assert_eq!(out.features.dims(), [c, k, d], "{} {grid:?}", cfg.kind());
            let feats = out.features.into_data().into_vec::<f32>().unwrap();
            let mut tokens = Vec::new();
            for (ci, clip) in out.members.iter().enumerate() {
                assert_eq!(clip.len(), k, "{}", cfg.kind());
                assert_eq!(
                    clip.iter().map(Vec::len).sum::<usize>(),
                    n,
                    "{}",
                    cfg.kind()
                );
                for (j, m) in clip.iter().enumerate() {
                    for ch in 0..d {
                        let mean = m
                            .iter()
                            .map(|&i| x[(ci * n + i as usize) * d + ch])
                            .sum::<f32>()
                            / m.len() as f32;
                        let got = feats[(ci * k + j) * d + ch];
                        assert!(
                            (got - mean).abs() < 1e-5,
                            "{}: token {j} is not its mean",
                            cfg.kind()
                        );
                    }
                    tokens.push(VisualToken::new(ci as u32, m.clone()));
                }
            }
            let prov = Provenance {
                grid,
                frame_indices: (0..c * frames).collect(),
                frame_times: (0..c * frames).map(|f| f as f64).collect(),
                tokens,
            };
            prov.validate()
                .unwrap_or_else(|e| panic!("{} {grid:?}: {e}", cfg.kind()));
        }
    }
}

#[test]
fn gradients_reach_every_input() {
    let grid = PatchGrid {
        frames: 4,
        h: 4,
        w: 4,
    };
    let (c, n, d) = (2, grid.per_clip(), 4);
    for cfg in configs(2) {
        let x = tensor::<CpuAutodiff>(noise(c * n * d, 9), [c, n, d]).require_grad();
        let comp = build_compressor::<CpuAutodiff>(&cfg, 2);
        let out = comp.compress(x.clone(), &grid);
        let grads = out.features.sum().backward();
        let g = x
            .grad(&grads)
            .expect("gradient")
            .into_data()
            .into_vec::<f32>()
            .unwrap();
        for (ci, clip) in out.members.iter().enumerate() {
            for m in clip {
                for &i in m {
                    let gi = g[(ci * n + i as usize) * d];
                    let want = 1.0 / m.len() as f32;
                    assert!(
                        (gi - want).abs() < 1e-5,
                        "{}: grad {gi} != {want}",
                        cfg.kind()
                    );
                }
            }
        }
    }
}

#[test]
fn temporal_merges_time_before_space() {
    // Four identical frames of distinct patches.
    let grid = PatchGrid {
        frames: 4,
        h: 4,
        w: 4,
    };
    let (n, d) = (grid.per_clip(), 8);
    let frame = noise(grid.per_frame() * d, 3);
    let x: Vec<f32> = (0..grid.frames).flat_map(|_| frame.clone()).collect();
    let covers_all_frames = |tpf: usize| {
        let comp = build_compressor::<Cpu>(
            &CompressorConfig::Temporal {
                tokens_per_frame: tpf,
                threshold: 0.9,
            },
            2,
        );
        comp.compress(tensor(x.clone(), [1, n, d]), &grid)
            .members
            .remove(0)
    };
    // Budget = h·w: every token is one patch position through all four frames.
    for m in covers_all_frames(4) {
        let cells: Vec<_> = m.iter().map(|&i| grid.cell_of(i)).collect();
        assert_eq!(m.len(), 4);
        assert!(cells.iter().all(|c| *c == cells[0]), "{m:?} mixes cells");
    }
    // Smaller budget: space merges only whole time-columns.
    for m in covers_all_frames(2) {
        assert_eq!(m.len() % 4, 0, "{m:?}");
        for f in 0..4 {
            assert_eq!(
                m.iter().filter(|&&i| grid.frame_of(i) == f).count(),
                m.len() / 4
            );
        }
    }
}

#[test]
fn each_kind_builds_from_one_toml_line() {
    let grid = PatchGrid {
        frames: 4,
        h: 4,
        w: 4,
    };
    for (line, k) in [
        ("kind = \"identity\"", 64),
        ("kind = \"tome\"\ntokens_per_frame = 4", 16),
        ("kind = \"tome_ordered\"\ntokens_per_frame = 4", 16),
        ("kind = \"pool\"\ntokens_per_frame = 4", 16),
        (
            "kind = \"temporal\"\ntokens_per_frame = 4\nthreshold = 0.5",
            16,
        ),
    ] {
        let cfg: CompressorConfig = toml::from_str(line).unwrap();
        assert_eq!(
            build_compressor::<Cpu>(&cfg, 2).output_tokens(&grid),
            k,
            "{line}"
        );
    }
}
