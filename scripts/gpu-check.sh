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
#   4. the 2B-shaped pipeline (UMT-L + Qwen2.5-1.5B shapes) on 1,000 / 10,000 frames, with
#      peak GPU memory sampled by nvidia-smi
# Steps 1, 3 (bf16) and 4 (1,000 frames) also run with HICO_ATTENTION=fused (burn's fused
# attention op: a flash kernel with the default `cuda` feature's autotune) for an A/B.
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
HICO_ATTENTION=fused run "$HICO" --device cuda bench parity --precision bf16
run "$HICO" --device cuda bench train-step --config configs/tiny.toml --frames 8 --steps 3
for shape in qwen2_5_0_5b qwen2_5_1_5b; do
  for p in f32 bf16; do
    run "$HICO" --device cuda bench llm --shape $shape --prefill 512,2048 --decode 16 --precision $p
    run python3 scripts/torch_llm_bench.py --shape $shape --device cuda --dtype $p --prefill 512,2048 --decode 16
  done
  HICO_ATTENTION=fused run "$HICO" --device cuda bench llm --shape $shape --prefill 512,2048 --decode 16 --precision bf16
done
# peak_gpu OUTFILE CMD...: run CMD with its stdout in OUTFILE while nvidia-smi samples the used
# GPU memory every second; print the peak (MiB).
peak_gpu() {
  local out=$1; shift
  local log; log=$(mktemp)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 1000 > "$log" &
  local smi=$!
  "$@" > "$out"
  kill $smi 2>/dev/null; wait $smi 2>/dev/null
  sort -n "$log" | tail -1
}
long() {  # long FRAMES [VAR=value...]: one long-video run; its JSON line gets peak_gpu_mib
  local n=$1; shift
  local tmp; tmp=$(mktemp)
  local peak; peak=$(peak_gpu "$tmp" env "$@" timeout 1200 "$HICO" --device cuda bench long-video \
    --config configs/videochat_flash_2b_shape.toml --frames "$n" --precision bf16)
  grep '^{' "$tmp" | PEAK=${peak:-0} python3 -c \
    "import sys,json,os; [print(json.dumps({**json.loads(l), 'peak_gpu_mib': int(os.environ['PEAK'] or 0)})) for l in sys.stdin]" | log
}
for n in ${LONG_FRAMES:-1000 10000}; do
  echo "# long-video $n frames" >&2
  long "$n"
done
echo "# long-video 1000 frames, fused attention" >&2
long 1000 HICO_ATTENTION=fused
echo "# wrote $OUT" >&2
