#!/usr/bin/env bash
# Second half of the GPU check, on the GPU machine (NVIDIA driver + PyTorch, no Rust, no
# network), from the repository root, with the binary from scripts/gpu-build.sh:
#
#   bash scripts/gpu-check.sh [path/to/hico] [out.jsonl]
#
# Runs, printing JSON lines (and appending them to out.jsonl):
#   1. LLM parity with the transformers fixtures on CUDA (f32 and bf16)
#   2. full-model training steps on CUDA (tiny config)
#   3. prefill + decode timings, 0.5B- and 1.5B-shaped Qwen2, f32 and bf16, hico then PyTorch
#   4. the 2B-shaped pipeline (UMT-L + Qwen2.5-1.5B shapes) on 1,000 / 10,000 frames
# scripts/gpu_report.py turns out.jsonl into docs/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."
HICO=${1:-target/gpu/hico}
OUT=${2:-${OUT:-/tmp}/gpu-check.jsonl}
# cudarc: pin the driver's CUDA version when known (driver 580 = CUDA 13.0).
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
: > "$OUT"
log() { tee -a "$OUT"; }
run() { echo "# $*" >&2; timeout "${T:-900}" "$@" 2> >(tail -5 >&2) | grep '^{' | log; }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  | python3 -c 'import sys,json; n,d,m=[x.strip() for x in sys.stdin.read().split(",")]; print(json.dumps({"check":"gpu","name":n,"driver":d,"memory":m}))' | log

for p in f32 bf16; do run "$HICO" --device cuda bench parity --precision $p; done
run "$HICO" --device cuda bench train-step --config configs/tiny.toml --frames 8 --steps 3
for shape in qwen2_5_0_5b qwen2_5_1_5b; do
  for p in f32 bf16; do
    run "$HICO" --device cuda bench llm --shape $shape --prefill 512,2048 --decode 16 --precision $p
    run python3 scripts/torch_llm_bench.py --shape $shape --device cuda --dtype $p --prefill 512,2048 --decode 16
  done
done
for n in ${LONG_FRAMES:-1000 10000}; do
  T=1200 run "$HICO" --device cuda bench long-video --config configs/videochat_flash_2b_shape.toml --frames $n --precision bf16
done
echo "# wrote $OUT" >&2
