#!/usr/bin/env bash
# The README's main job: install what is missing, build hico (release), and run the tiny
# find-the-object ablation (a small coloured object in one clip of a synthetic haystack; a
# tiny model trained on CPU through a curriculum solves it uncompressed; compressors ×
# budgets × dropout schedules on the same 192 questions, the paper's two claims as paired
# McNemar tests; tables with 95 % Wilson intervals and plots under runs/object_tiny/).
# Progress goes to the terminal and to runs/<experiment>.log as plain lines (the log
# records the load average and the wall time too).
#
#   EXPERIMENT=experiments/mh_niah_tiny.toml bash scripts/main.sh   # the multi-hop
#   needle-in-a-haystack ablation (the tiny model stays near chance there)
#   EXPERIMENT=experiments/deep_tiny.toml bash scripts/main.sh     # the in-LLM dropout
#   testbed (order of events, 8-layer decoder, 3 seeds; ~17 min on 2 loaded cores)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
cargo build --release
exp=${EXPERIMENT:-experiments/object_tiny.toml}
mkdir -p runs
log=runs/$(basename "$exp" .toml).log
{
    echo "start $(date -u +%FT%TZ); load: $(uptime)"
    start=$(date +%s)
    ./target/release/hico ablate "$exp" "$@"
    echo "end $(date -u +%FT%TZ); wall $(($(date +%s) - start)) s; load: $(uptime)"
} 2>&1 | tee "$log"
