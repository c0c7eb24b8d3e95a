#!/usr/bin/env python3
"""Each whole-video compression method's own cost beside the prefill time it saves, on this
machine, in one run (docs/compression.md, "Cost").

1. `cargo bench -p hico-compress --bench methods -- T N C`: every method at its defaults on a
   [T, N, C] block (ms, tokens kept);
2. `hico bench llm --shape qwen2_5_0_5b --prefill ...`: hico's prefill of a Qwen2.5-0.5B-shaped
   model (random weights, f32) at the uncompressed length and at a few shorter ones;
3. per method: the prefill time saved (interpolated between the measured lengths) against
   the method's own time; a method whose selection costs more than it saves is marked.

    python3 benches/compress_cost.py [--hico target/release/hico] [--t 16 --n 196 --c 896]

Prints a markdown table (and the raw JSON lines to stderr).
"""
import argparse
import json
import os
import platform
import subprocess
import sys


def run_json(cmd, env=None):
    print("$", " ".join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    rows = [json.loads(l) for l in out.splitlines() if l.startswith("{")]
    for r in rows:
        print(json.dumps(r), file=sys.stderr)
    return rows


def interp(points, x):
    """Piecewise-linear interpolation through sorted (length, ms) points (0 -> 0)."""
    pts = [(0, 0.0)] + sorted(points)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / max(x1 - x0, 1)
    return pts[-1][1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hico", default="target/release/hico")
    ap.add_argument("--t", type=int, default=16)
    ap.add_argument("--n", type=int, default=196)
    ap.add_argument("--c", type=int, default=896)
    a = ap.parse_args()
    total = a.t * a.n
    methods = run_json(
        ["cargo", "bench", "-q", "-p", "hico-compress", "--bench", "methods", "--",
         str(a.t), str(a.n), str(a.c)])
    lengths = sorted({total, total // 2, total // 4, total // 10})
    llm = run_json([a.hico, "bench", "llm", "--shape", "qwen2_5_0_5b", "--prefill",
                    ",".join(map(str, lengths)), "--decode", "1", "--reps", "3"])
    points = [(r["prefill"], r["prefill_ms"]) for r in llm if "prefill_ms" in r]
    full = interp(points, total)
    cpu = platform.processor() or "cpu"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"Measured on {cpu}, {os.cpu_count()} cores; block [{a.t}, {a.n}, {a.c}] "
          f"({total} tokens); Qwen2.5-0.5B-shaped prefill of {total} tokens: {full:.0f} ms; "
          f"load average {os.getloadavg()[0]:.1f} at the end.\n")
    print("| kind | tokens kept | method (ms) | per 1,000 tokens (ms) | prefill saved (ms) | net |")
    print("|---|---|---|---|---|---|")
    for m in methods:
        saved = full - interp(points, m["tokens_out"])
        net = "costs more than it saves" if m["ms"] > saved else f"saves {saved - m['ms']:.0f} ms"
        if m["tokens_out"] == total:
            net = "keeps every token"
        print(f"| `{m['kind']}` | {m['tokens_out']} | {m['ms']:.1f} | {m['ms_per_1k_tokens']:.2f} "
              f"| {saved:.0f} | {net} |")


if __name__ == "__main__":
    main()
