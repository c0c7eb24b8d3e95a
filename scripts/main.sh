#!/usr/bin/env bash
# The README's main job: install what is missing, build hico (release), and run the tiny
# multi-hop needle-in-a-video-haystack ablation (synthetic benchmark, tiny model trained on
# CPU, a grid of compressors × dropout schedules; tables and plots under runs/).
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
cargo build --release
./target/release/hico ablate experiments/mh_niah_tiny.toml "$@"
