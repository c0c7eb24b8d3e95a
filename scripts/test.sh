#!/usr/bin/env bash
# The README's test command: install what is missing, then run every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
eval "$(bash scripts/setup.sh)"
cargo test --workspace "$@"
