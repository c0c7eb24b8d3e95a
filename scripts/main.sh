#!/usr/bin/env bash
# The README's main job: install what is missing, build hico (release), and run the tiny
# multi-hop needle-in-a-video-haystack ablation (synthetic benchmark, tiny model trained on
# CPU, compressors × budgets × dropout schedules; tables with 95 % Wilson intervals and plots
# under runs/mh_niah_tiny/). Progress goes to the terminal and to runs/<experiment>.log as
# plain lines (the log records the load average and the wall time too).
#
#   EXPERIMENT=experiments/object_tiny.toml bash scripts/main.sh   # the find-the-object
#   ablation with the paper's two claims as paired tests (its recipe is not solved yet)
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
cargo build --release
exp=${EXPERIMENT:-experiments/mh_niah_tiny.toml}
mkdir -p runs
log=runs/$(basename "$exp" .toml).log
{
    echo "start $(date -u +%FT%TZ); load: $(uptime)"
    start=$(date +%s)
    ./target/release/hico ablate "$exp" "$@"
    echo "end $(date -u +%FT%TZ); wall $(($(date +%s) - start)) s; load: $(uptime)"
} 2>&1 | tee "$log"
