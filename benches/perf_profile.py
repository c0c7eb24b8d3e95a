#!/usr/bin/env python3
"""Per-op-kind CPU profile of a hico command: `perf record` (on-CPU samples, so the shares
do not depend on how loaded the machine is), then each sampled symbol sorted into an op kind
by its name (burn-flex kernels, gemm, libm, the allocator, the kernel's page faults).

  python3 benches/perf_profile.py NAME -- CMD ARGS...      # prints a markdown table row set

Needs `perf` (Debian: linux-perf) and a binary with symbols: the release profile strips them,
so profile the debug build (`cargo build -p hico`: dependencies at opt-level 2, hico's own
crates at 0; hico's own code is orchestration, its share is reported as its own row).
Samples of setup (random weights, dynamic linking) are reported as `setup` and left out of
the shares of the work.
"""
import os
import re
import subprocess
import sys
import tempfile

# (kind, regex on the symbol), first match wins.
KINDS = [
    ("setup (random init, linking)", r"chacha|rand_distr|rand::|Distribution|TensorData::random|do_lookup_x|_dl_|strcmp|check_match"),
    ("matmul (gemm)", r"gemm|matmul"),
    ("softmax / exp", r"expf|xflowf|exp|softmax|with_errnof"),
    ("hico kernels (attention, rope, pool: loops)", r"hico_kernels"),
    ("reshape / strided copy", r"StridedIter|copy_contiguous|to_contiguous|memmove|memcpy|permute|swap_dims|slice|cat_|gather|select|narrow"),
    ("reductions (sum, max, mean)", r"reduce|sum|max|mean|argmax"),
    ("elementwise (unary, binary, mask)", r"unary|binary|broadcast|mask|macerator|scalar|simd|clamp|powf|sqrt|tanh|erf"),
    ("autodiff bookkeeping", r"burn_autodiff|burn_backend::.*backward|Checkpointer|NodeStep"),
    ("threads (rayon, scheduler)", r"rayon|crossbeam|futex|sched|switch|spin_|schedule|irq|wake"),
    ("allocation, page faults, zeroing", r"^\[k\]|malloc|free\b|cfree|_int_|memset|alloc::alloc|RawVec"),
    ("dispatch, shapes, closures", r"zspace|smallvec|FnOnce|FnMut|LocalKey|compare_int|Shape"),
    ("hico code (opt-level 0)", r"hico_"),
]


def classify(sym):
    for kind, rx in KINDS:
        if re.search(rx, sym, re.I):
            return kind
    return "other"


def profile(name, cmd, cwd=None, env=None):
    """Markdown lines: the share of each op kind in the on-CPU samples of `cmd` (setup left
    out), then the top symbols."""
    data = tempfile.mktemp(suffix=".perf")
    subprocess.run(["perf", "record", "-F", "997", "-q", "-o", data, "--"] + cmd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd, env=env)
    rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol",
                          "--stdio", "-g", "none"], check=True, capture_output=True, text=True).stdout
    os.remove(data)
    by, top, total = {}, [], 0
    for line in rep.splitlines():
        if line.startswith("# Samples:"):
            total = line.split()[2]
        m = re.match(r"\s*([\d.]+)%\s+(\[[.k]\])\s+(.*\S)", line)
        if not m:
            continue
        # Kernel samples keep their `[k]` mark so that they classify as kernel work.
        pct, sym = float(m.group(1)), (m.group(2) + " " if m.group(2) == "[k]" else "") + re.split(r"\s{2,}", m.group(3))[0]
        kind = classify(sym)
        by[kind] = by.get(kind, 0.0) + pct
        top.append((pct, sym, kind))
    setup = by.pop("setup (random init, linking)", 0.0)
    work = sum(by.values()) or 1.0
    md = [f"**{name}** ({total} samples; {setup:.0f} % setup left out)", "",
          "| op kind | share of work samples |", "|---|---|"]
    md += [f"| {k} | {100 * p / work:.1f} % |" for k, p in sorted(by.items(), key=lambda kv: -kv[1])]
    md += ["", "Top symbols (share of all samples):", ""]
    md += [f"- {p:.1f} % `{sym[:80]}` ({k})" for p, sym, k in sorted(top, reverse=True)[:6]]
    return md + [""]


def main():
    if "--" not in sys.argv or sys.argv.index("--") < 2:
        sys.exit(__doc__)
    name, cmd = sys.argv[1], sys.argv[sys.argv.index("--") + 1:]
    print("\n".join(profile(name, cmd)))


if __name__ == "__main__":
    main()
