#!/usr/bin/env bash
# The README's main job: install what is missing, build hico (release), and run the tiny
# find-the-object ablation (synthetic benchmark, tiny model trained on CPU, compressors ×
# budgets × dropout schedules, the paper's two claims as paired tests; tables and plots
# under runs/object_tiny/). Progress goes to the terminal and to runs/object_tiny.log as
# plain lines (the log records the load average and the wall time too).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
cargo build --release
mkdir -p runs
log=runs/object_tiny.log
{
    echo "start $(date -u +%FT%TZ); load: $(uptime)"
    start=$(date +%s)
    ./target/release/hico ablate experiments/object_tiny.toml "$@"
    echo "end $(date -u +%FT%TZ); wall $(($(date +%s) - start)) s; load: $(uptime)"
} 2>&1 | tee "$log"
