#!/usr/bin/env bash
# Second half of the GPU check, on the GPU machine (NVIDIA driver + PyTorch, no Rust, no
# network), from the repository root, with the binary from scripts/gpu-build.sh:
#
#   bash scripts/gpu-check.sh [path/to/hico] [out.jsonl] [PART ...]
#
# Runs the PARTs given (default: all, in this order), printing JSON lines and appending them
# to out.jsonl (never truncated: remove it to start afresh, or keep it across calls that run
# different parts). Rough H100 times from the first run, to plan a lent machine's minutes:
#   parity   LLM parity with the transformers fixtures on CUDA (f32, bf16, bf16 fused)  ~1 min
#   train    full-model training steps on CUDA (tiny config)                            <1 min
#   llm      prefill + decode, 0.5B- and 1.5B-shaped Qwen2, f32 and bf16, hico then
#            PyTorch, plus bf16 with HICO_ATTENTION=fused                                ~4 min
#   long     the 2B-shaped pipeline (UMT-L + Qwen2.5-1.5B shapes) on 1,000 frames three
#            ways: hico's tiled attention with 256 and 1,024 tiles (HICO_ATTENTION_BLOCK),
#            and burn's fused op (HICO_ATTENTION=fused), each with peak GPU memory        ~5 min
#   long10k  the same on 10,000 frames, one way: ATTN10K=fused (default), own or
#            block1024                                                           ~10 min (est.)
# A session with 15 minutes of device time runs `long` first, then `long10k` with the
# winner, and the rest if time is left. scripts/gpu_report.py turns out.jsonl into docs/gpu.md.
#
# DEV=cpu runs the same commands on the CPU, in f32 (a dry run of the plumbing on a machine
# without a GPU; LONG_CONFIG swaps the 2B-shaped config of the long-video parts):
#   DEV=cpu LONG_CONFIG=configs/tiny.toml bash scripts/gpu-check.sh target/release/hico \
#     /tmp/dry.jsonl parity train long
set -uo pipefail
cd "$(dirname "$0")/.."
HICO=${1:-target/gpu/hico}
OUT=${2:-${OUT:-/tmp}/gpu-check.jsonl}
# cudarc: pin the driver's CUDA version when known (driver 580 = CUDA 13.0).
export CUDARC_CUDA_VERSION=${CUDARC_CUDA_VERSION:-13000}
DEV=${DEV:-cuda}
LONG_CONFIG=${LONG_CONFIG:-configs/videochat_flash_2b_shape.toml}
# The precisions the device runs: the CPU backend has no bf16.
if [ "$DEV" = cuda ]; then LOW=bf16; PRECS="f32 bf16"; else LOW=f32; PRECS=f32; fi
touch "$OUT"  # appended to: several calls (parts) build one file
PARTS=("${@:3}")
[ ${#PARTS[@]} -eq 0 ] && PARTS=(parity train llm long long10k)
want() { [[ " ${PARTS[*]} " == *" $1 "* ]]; }
log() { tee -a "$OUT"; }
run() { echo "# $*" >&2; timeout "${T:-900}" "$@" 2> >(tail -5 >&2) | grep '^{' | log; }

command -v nvidia-smi >/dev/null || nvidia-smi() {  # a dry run: no card, no memory figures
  case "$*" in *memory.used*) echo 0 ;; *) echo "none (DEV=$DEV), -, 0 MiB" ;; esac
}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  | python3 -c 'import sys,json; n,d,m=[x.strip() for x in sys.stdin.read().split(",")]; print(json.dumps({"check":"gpu","name":n,"driver":d,"memory":m}))' | log

if want parity; then
  for p in $PRECS; do run "$HICO" --device $DEV bench parity --precision $p; done
  HICO_ATTENTION=fused run "$HICO" --device $DEV bench parity --precision $LOW
fi
if want train; then
  run "$HICO" --device $DEV bench train-step --config configs/tiny.toml --frames 8 --steps 3
fi
if want llm; then
  for shape in qwen2_5_0_5b qwen2_5_1_5b; do
    for p in $PRECS; do
      run "$HICO" --device $DEV bench llm --shape $shape --prefill 512,2048 --decode 16 --precision $p
      run python3 benches/torch_llm_bench.py --shape $shape --device $DEV --dtype $p --prefill 512,2048 --decode 16
    done
    HICO_ATTENTION=fused run "$HICO" --device $DEV bench llm --shape $shape --prefill 512,2048 --decode 16 --precision $LOW
  done
fi
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
  local peak; peak=$(peak_gpu "$tmp" env "$@" timeout 1200 "$HICO" --device $DEV bench long-video \
    --config "$LONG_CONFIG" --frames "$n" --precision $LOW)
  grep '^{' "$tmp" | PEAK=${peak:-0} python3 -c \
    "import sys,json,os; [print(json.dumps({**json.loads(l), 'peak_gpu_mib': int(os.environ['PEAK'] or 0)})) for l in sys.stdin]" | log
}
# attn_env WAY: the environment of one attention choice.
attn_env() {
  case $1 in
    own) echo "HICO_ATTENTION=own" ;;
    block1024) echo "HICO_ATTENTION=own HICO_ATTENTION_BLOCK=1024" ;;
    fused) echo "HICO_ATTENTION=fused" ;;
    *) echo "unknown attention way $1 (own, block1024, fused)" >&2; return 1 ;;
  esac
}
if want long; then
  for way in own block1024 fused; do
    echo "# long-video 1000 frames, $way" >&2
    # shellcheck disable=SC2046
    long 1000 $(attn_env $way)
  done
fi
if want long10k; then
  way=${ATTN10K:-fused}
  echo "# long-video 10000 frames, $way" >&2
  # shellcheck disable=SC2046
  long 10000 $(attn_env "$way")
fi
echo "# wrote $OUT" >&2
