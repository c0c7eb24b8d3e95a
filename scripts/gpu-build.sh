#!/usr/bin/env bash
# First half of the GPU check, on a CPU machine with the Rust toolchain: build a stripped
# release `hico` with burn-cuda and WITHOUT FFmpeg (GPU machines here have no FFmpeg
# libraries; the check feeds frames as tensors), into target/gpu/hico. burn 0.21's CUDA
# backend builds offline and loads the driver at run time, so no CUDA toolkit is needed here.
#
# HICO_CUDA_FEATURE=cuda-plain builds burn-cuda without fusion and autotune (the configuration
# of the first H100 numbers in docs/gpu.md), for an A/B comparison; default `cuda` has both.
#
# Then carry target/gpu/hico (and, for the 2B-shape runs, the Qwen tokenizer under
# target/testdata/py) to the GPU machine and run scripts/gpu-check.sh there.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_TARGET_DIR=target/cuda cargo build --release -p hico --no-default-features --features "${HICO_CUDA_FEATURE:-cuda}",ddp
mkdir -p target/gpu
cp target/cuda/release/hico target/gpu/hico
ls -la target/gpu/hico
