#!/usr/bin/env python3
"""Regenerate docs/performance.md on this machine (CPU): one command, every figure side by side
with its reference where one exists, and the machine named.

  /opt/hico-venv/bin/python benches/perf_report.py [--quick]

Needs a release build (`cargo build --release`) and a Python with torch + transformers for the
PyTorch columns (the LLM rows are skipped without them). Sections (keys for --only / --skip):
  long_video  the whole inference path of configs/tiny.toml on a real 4,000-frame H.264 file at
              100 / 1,000 / 4,000 sampled frames, each in a fresh process: time and peak memory;
  dropout     prefill time vs the analytic FLOP ledger per dropout schedule;
  llm         LLM prefill + decode vs PyTorch eager, same thread count, with hico's attention
              kernel (`own`) and its burn-op form (`composed`, the before column);
  attention   causal attention alone: hico's kernel, burn's fused op, PyTorch SDPA;
  train_step  one full-model training step of configs/tiny.toml;
  llm_memory  training-step head on all rows vs target rows, loading a 0.5B-shape LLM and (unless
              `release2b` is skipped) a 2B-shape release (~10 min, up to 9 GiB);
  train_torch a training step vs PyTorch eager (configs/train/bench_small.toml, bench_large.toml);
  video       video sampling vs decord / PyAV (benches/bench_video.py);
  vision      vision encoder and compressors vs PyTorch (`cargo bench -p hico-vision` +
              benches/vision_bench_torch.py);
  profile     per-op-kind CPU profiles of prefill, a training step and the encoder (needs `perf`
              and a debug build, `cargo build -p hico`: benches/perf_profile.py);
  backend     the CPU backend choice.
`--only llm,attention` re-measures those sections and keeps the others as they stand in the
existing file; `--skip video,vision` leaves sections out of a full run. `--isa avx2` on an
AVX-512 machine measures both sides as an AVX2 machine would run them: hico's kernels and
matrix products through `HICO_KERNEL_ISA=avx2`, PyTorch through `ATEN_CPU_CAPABILITY=avx2`,
`MKL_ENABLE_INSTRUCTIONS=AVX2` and `ONEDNN_MAX_CPU_ISA=AVX2` (write it to another `--out`).
"""
import datetime
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import shutil
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HICO = os.path.join(ROOT, "target", "release", "hico")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, **kw).stdout


def jsonl(out):
    return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def machine():
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    if os.environ.get("HICO_KERNEL_ISA"):
        isa += f", capped at {os.environ['HICO_KERNEL_ISA']} for hico and PyTorch (--isa)"
    mem = next((int(l.split()[1]) // 1024 // 1024 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0)
    return f"{cpu} ({isa}), {os.cpu_count()} cores, {mem} GiB, {platform.system()} {platform.release()}"


# What `--isa avx2` sets for every child process: hico's cap and PyTorch's (ATen's vectorised
# kernels, MKL's BLAS, oneDNN).
ISA_CAPS = {"avx2": {"HICO_KERNEL_ISA": "avx2", "ATEN_CPU_CAPABILITY": "avx2",
                     "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}


def dropout_configs(tmp):
    base = open(os.path.join(ROOT, "configs/tiny.toml")).read()
    start = base.index("[dropout]")
    end = base.index("[generation]")
    variants = {
        "none": 'kind = "none"',
        "uniform": 'kind = "uniform"\nlayers = [1, 3]\nratios = [1.0, 0.5, 0.25]',
        "uniform0_attention": 'kind = "uniform0_attention"\nlayers = [1, 3]\nratios = [1.0, 0.5, 0.25]',
        "fastv": 'kind = "fastv"\nlayer = 1\nratio = 0.75',
    }
    paths = {}
    for name, body in variants.items():
        p = os.path.join(tmp, f"tiny_{name}.toml")
        open(p, "w").write(base[:start] + "[dropout]\n" + body + "\n\n" + base[end:])
        paths[name] = p
    return paths


def table_lines(out):
    """The markdown table rows (lines starting with `|`) of a script's output."""
    return [l.rstrip() for l in out.splitlines() if l.startswith("|")]


def train_vs_torch(tmp, steps, rounds):
    """hico's tokens/s on configs/train/bench_small.toml and bench_large.toml vs the same steps
    in PyTorch eager, the two sides interleaved for `rounds` rounds."""
    data = os.path.join(tmp, "synth")
    sh([HICO, "train", "--make-synth", data])
    rows = []
    for shape, n in (("small", steps), ("large", max(steps // 4, 6))):
        stage = open(os.path.join(ROOT, f"configs/train/bench_{shape}.toml")).read().replace("data/tiny_synth", data)
        cfg = os.path.join(tmp, f"bench_{shape}.toml")
        open(cfg, "w").write(stage.replace('pipeline = "configs/', f'pipeline = "{ROOT}/configs/'))
        warm = 5 if shape == "small" else 3
        hico, torch, seq = [], [], ""
        for _ in range(rounds):
            out = os.path.join(tmp, f"bench_train_{shape}")
            shutil.rmtree(out, ignore_errors=True)
            sh([HICO, "train", "--config", cfg, "--out", out, "--max-steps", str(n + warm)])
            with open(os.path.join(out, "metrics.jsonl")) as f:
                rates = [json.loads(l)["tokens_per_s"] for l in f if l.strip()]
            hico.append(statistics.median(rates[warm:]))
            try:
                t = sh([sys.executable, "benches/train_bench_torch.py", "--shape", shape, "--steps", str(n),
                        "--warmup", str(warm)])
                seq = next(l for l in t.splitlines() if "sequence:" in l).split("sequence: ")[1]
                torch.append(float(re.search(r"threads: (\d+) tokens/s", t).group(1)))
            except (subprocess.CalledProcessError, FileNotFoundError, StopIteration, AttributeError) as e:
                print(f"(PyTorch side failed: {e})", flush=True)
        span = lambda v: f"{min(v):,.0f}-{max(v):,.0f}" if len(v) > 1 else f"{v[0]:,.0f}"
        ratio = (f"{min(h / t for h, t in zip(hico, torch)):.2f}-{max(h / t for h, t in zip(hico, torch)):.2f}"
                 if torch else "n/a")
        rows.append(f"| {shape} | {seq or 'n/a'} | {span(hico)} | {span(torch) if torch else 'n/a'} | {ratio} |")
        print(rows[-1], flush=True)
    return ["## Training step vs PyTorch eager (configs/train/bench_small.toml, bench_large.toml)", "",
            "One sample per step: one 4-frame clip → 2-block ViT (width 128) → compressor → MLP → Qwen2,",
            "loss on the answer, backward, AdamW on every part. `small`: 64 px frames, 16 pooled visual",
            "tokens, 4 layers of width 256; `large`: 128 px frames in 8 px patches, all 1,024 patch tokens",
            "kept, 2 layers of Qwen2.5-0.5B's widths (896, 14 / 2 heads, MLP 4,864), where the matrix",
            "products dominate. LLM input tokens per second, median of each run's steps after warm-up",
            f"({steps} / {max(steps // 4, 6)} steps); hico and `benches/train_bench_torch.py` (PyTorch eager,",
            f"transformers' Qwen2, its default threads) interleaved, {rounds} run(s) each (ranges are the runs).", "",
            "| shape | sequence (tokens) | hico tokens/s | PyTorch tokens/s | hico / PyTorch |",
            "|---|---|---|---|---|", *rows, ""]


def llm_memory_md(steps, load05, load2b, note=""):
    """Markdown of the LLM memory section from the JSON lines of `hico bench train-memory`
    (`steps`), `hico bench llm-load` (`load05`, with `disk_mib` added) and `hico release load`
    (`load2b`, with `disk_mib` added; None when not run)."""
    logits = 4096 * 151936 * 4 / 2**20
    md = ["## LLM memory: training-step head, checkpoint loading (random weights)", ""]
    if note:
        md += [note, ""]
    md += ["Peak heap of one training step of the Qwen2.5-0.5B shape (hidden 896, 14 heads, 2 KV",
           "heads, MLP 4,864, vocabulary 151,936, tied head) with fewer decoder layers: forward of",
           "4,096 tokens, cross entropy on the last 64 positions, backward. `head on all` applies the",
           "output head to every row and then keeps the target rows (the training code before issue",
           "#16), `targets` applies it to the target rows only (now). Peak heap: hico's counting",
           "allocator, above the built model; peak RSS: the whole process (model included).", "",
           "| decoder layers | head on | peak heap (MiB) | peak RSS (MiB) | step (s) |", "|---|---|---|---|---|"]
    by = {}
    for r in steps:
        by[(r["layers"], r["head"])] = r["peak_heap_mib"]
        md.append(f"| {r['layers']} | {r['head']} | {r['peak_heap_mib']:.0f} | {r['peak_rss_mib']:.0f} | {r['step_s']:.0f} |")
    deltas = [by[(l, "all")] - by[(l, "targets")] for l in sorted({k[0] for k in by})
              if (l, "all") in by and (l, "targets") in by]
    layers = sorted(l for l, h in by if h == "targets")
    md.append("")
    if deltas:
        md.append(f"The head on every row costs {' / '.join(f'{d:.0f}' for d in deltas)} MiB more "
                  f"({deltas[0] / 1024:.2f} GiB, {deltas[0] / logits:.2f}× the {logits:,.0f} MiB of the "
                  "`[4096, 151936]` f32 logits), the same for each layer count.")
    if len(layers) >= 2:
        lo, hi = layers[0], layers[-1]
        per = (by[(hi, "targets")] - by[(lo, "targets")]) / (hi - lo)
        full = by[(lo, "targets")] + (24 - lo) * per
        md.append(f"Each decoder layer adds {per:.0f} MiB (activations kept for backward, attention "
                  f"included); the full 24 layers would need about {full / 1024:.0f} GiB of heap "
                  "(extrapolated, not run: it does not fit this machine).")
    md += ["", "Loading a random bf16 checkpoint with real key names (`hico bench llm-load --write` for the",
           "0.5B LLM; `hico release random --config configs/videochat_flash_2b_shape.toml --vocab 151936`",
           "for the whole VideoChat-Flash-2B shape: UMT-L 448 px + MLP + Qwen2.5-1.5B), page cache warm:", "",
           "| checkpoint | on disk (MiB) | model in f32 (MiB) | load (s) | peak heap (MiB) | peak RSS (MiB) | peak RSS / model |",
           "|---|---|---|---|---|---|---|"]
    rows = [("Qwen2.5-0.5B shape", load05)] + ([("VideoChat-Flash-2B shape", load2b)] if load2b else [])
    for name, r in rows:
        heap = f"{r['peak_heap_mib']:.0f}" if r.get("peak_heap_mib") is not None else "n/a"
        md.append(f"| {name} | {r['disk_mib']:.0f} | {r['model_f32_mib']:.0f} | {r['load_s']:.1f} | {heap} | "
                  f"{r['peak_rss_mib']:.0f} | {r['peak_rss_mib'] / r['model_f32_mib']:.2f} |")
    old = (load05["disk_mib"] + load05["model_f32_mib"]) / load05["model_f32_mib"]
    md += ["", "Loading reads one tensor at a time (`hico_weights`), so memory stays near the model's",
           "own size. The loader before issue #16 read each safetensors file whole and converted every",
           "tensor to an f32 `Vec` before building the model, holding file bytes + f32 copy together: a",
           f"peak of at least {old:.2f}× the model for the 0.5B shape by arithmetic (not re-measured: that",
           "binary cannot be rebuilt here without rebuilding the dependencies). There was no release",
           "loader before issue #14.", ""]
    return md


def dir_mib(d):
    return sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d) if f.endswith(".safetensors")) / 2**20


def llm_memory(tmp, skip):
    """Issue #16's and #14's memory rows: training-step head (1 and 2 decoder layers, head on all
    rows vs target rows), loading a random 0.5B-shape LLM and (unless `release2b` is skipped:
    3.5 GB of disk, ~8 GB of memory) a random VideoChat-Flash-2B-shape release."""
    steps = []
    for layers in (1, 2):
        for head in ("all", "targets"):
            steps += jsonl(sh([HICO, "bench", "train-memory", "--layers", str(layers), "--tokens", "4096",
                               "--targets", "64", "--head", head]))
            print(steps[-1], flush=True)
    ckpt = os.path.join(tmp, "qwen2_5_0_5b_bf16")
    sh([HICO, "bench", "llm-load", "--dir", ckpt, "--write"])
    load05 = jsonl(sh([HICO, "bench", "llm-load", "--dir", ckpt]))[0]
    load05["disk_mib"] = dir_mib(ckpt)
    shutil.rmtree(ckpt)
    load2b = None
    if "release2b" not in skip:
        d = os.path.join(tmp, "vcf2b")
        sh([HICO, "release", "random", "--config", "configs/videochat_flash_2b_shape.toml",
            "--vocab", "151936", "--out", d])
        load2b = jsonl(sh([HICO, "release", "load", "--model", d]))[0]
        load2b["disk_mib"] = dir_mib(d)
        shutil.rmtree(d)
    return llm_memory_md(steps, load05, load2b)


def video_vs_decord():
    """benches/bench_video.py: 16 / 64 / 256 frames of a 2-minute 720p H.264 file."""
    try:
        out = sh([sys.executable, "benches/bench_video.py"])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        return ["## Video sampling vs decord / PyAV", "", f"(not run: {e})", ""]
    rows = [l.split() for l in out.splitlines() if l.strip()[:1].isdigit() and len(l.split()) >= 9]
    print(out, flush=True)
    md = ["## Video sampling vs decord / PyAV (2-minute 1280×720 30 fps H.264, GOP 250)", "",
          "Open + read T frames (segment middles) at 224 px, median of 3; decord 0.6 / PyAV on the",
          "same indices at full size. `benches/bench_video.py`; details in crates/hico-video/README.md.", "",
          "| T | hico (s) | decord (s) | PyAV sequential (s) | PyAV seek-each (s) | hico / decord | frames agree |",
          "|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} | {r[8]} |")
    return md + [""]


def vision_vs_torch(reps):
    """`cargo bench -p hico-vision` then benches/vision_bench_torch.py on the same inputs."""
    env = dict(os.environ, HICO_BENCH_REPS=str(reps))
    try:
        sh(["cargo", "bench", "-q", "-p", "hico-vision"], env=env)
        out = sh([sys.executable, "benches/vision_bench_torch.py", str(reps)])
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        return ["## Vision encoder and compressors vs PyTorch", "", f"(not run: {e})", ""]
    print(out, flush=True)
    return ["## Vision encoder and compressors vs PyTorch (per clip of 4 frames)", "",
            "Encoder at a reduced width (256, 4 blocks, 4 heads; UMT-L is too slow for 2 cores),",
            "compressors at the UMT-L width 1024 to 16 tokens per frame (ToMe: the reference rule;",
            "pool: adaptive average pooling; `pool_dense`: hico's pool before issue #17, one dense",
            "averaging matrix, against the same PyTorch pool). crates/hico-vision/benches/vision.rs and",
            "`benches/vision_bench_torch.py`:", "", *table_lines(out), ""]


def profiles(tmp):
    """Per-op-kind CPU profiles (benches/perf_profile.py: `perf` samples, debug build for its
    symbols) of LLM prefill (small shape, 512 tokens), training steps of
    configs/train/bench_small.toml and the vision encoder at 224 px."""
    dbg = os.path.join(ROOT, "target", "debug", "hico")
    head = ["## Where the CPU time goes: per-op-kind profile", ""]
    if not shutil.which("perf") or not os.path.exists(dbg):
        return head + ["(not run: needs `perf` and `cargo build -p hico` for a binary with symbols)", ""]
    sys.path.insert(0, os.path.join(ROOT, "benches"))
    from perf_profile import profile
    data = os.path.join(tmp, "synth_prof")
    sh([dbg, "train", "--make-synth", data])
    stage = open(os.path.join(ROOT, "configs/train/bench_small.toml")).read().replace("data/tiny_synth", data)
    cfg = os.path.join(tmp, "bench_small_prof.toml")
    open(cfg, "w").write(stage.replace('pipeline = "configs/', f'pipeline = "{ROOT}/configs/'))
    md = head + [f"On-CPU samples of `perf record -F 997` (shares do not depend on the machine's load; "
                 f"load average {os.getloadavg()[0]:.1f} at the start), debug build: dependencies "
                 "(burn, flex, gemm) at opt-level 2, hico-kernels and hico-backend at 3, hico's other crates at 0. "
                 "Symbols sorted into op "
                 "kinds by name (benches/perf_profile.py); fused closures of flex kernels show as "
                 "`dispatch, shapes, closures`.", ""]
    md += profile("LLM prefill, small shape, 512 tokens", [dbg, "bench", "llm", "--shape", "small",
                  "--prefill", "512", "--decode", "1", "--reps", "20"], cwd=ROOT)
    md += profile("LLM prefill, small shape, 2048 tokens", [dbg, "bench", "llm", "--shape", "small",
                  "--prefill", "2048", "--decode", "1", "--reps", "5"], cwd=ROOT)
    md += profile("Training steps, configs/train/bench_small.toml (40 steps)",
                  [dbg, "train", "--config", cfg, "--out", os.path.join(tmp, "prof_train"), "--max-steps", "40"], cwd=ROOT)
    sh(["cargo", "build", "-q", "-p", "hico-vision", "--bench", "vision"])
    bench = max((os.path.join(ROOT, "target", "debug", "deps", f) for f in os.listdir(os.path.join(ROOT, "target", "debug", "deps"))
                 if f.startswith("vision-") and os.access(os.path.join(ROOT, "target", "debug", "deps", f), os.X_OK)
                 and "." not in f), key=os.path.getmtime)
    # (Overwrites target/hico-vision-bench.json: vision_vs_torch has read it by now.)
    md += profile("Vision encoder at 224 px (width 256, 4 blocks)", [bench, "--bench"], cwd=ROOT,
                  env=dict(os.environ, HICO_BENCH_PX="224", HICO_BENCH_REPS="5", HICO_BENCH_ONLY="encoder"))
    return md


def llm_vs_torch(quick):
    """LLM prefill + decode: hico (attention `own`: the CPU kernel; and `composed`: the burn-op
    form before the kernel) beside PyTorch eager, same thread count, in one run."""
    md = ["## LLM prefill and decode vs PyTorch eager (random weights, f32, same threads)", "",
          "`own` is hico's attention as it runs by default (the CPU kernel of",
          "`hico_kernels::attention` on flex); `composed` the same algorithm as burn ops",
          "(`HICO_ATTENTION=composed`, hico's attention before issue #17's kernel). The rest of the",
          "model is the same in both (RoPE included: its one-pass kernel runs in both columns). One",
          "run each, rows interleaved.", "",
          "| shape | prefill tokens | hico own (ms) | hico composed (ms) | torch (ms) | own / torch | composed / torch | hico decode (ms) | torch decode (ms) | decode ratio |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    plan = [("small", "512,2048")] if quick else [("small", "512,2048,8192"), ("qwen2_5_0_5b", "512,2048")]
    for shape, lens in plan:
        run = lambda impl: jsonl(sh([HICO, "bench", "llm", "--shape", shape, "--prefill", lens, "--decode", "8",
                                     "--reps", "1"], env=dict(os.environ, HICO_ATTENTION=impl)))
        own, composed = run("own"), run("composed")
        try:
            t = jsonl(sh([sys.executable, "benches/torch_llm_bench.py", "--shape", shape, "--prefill", lens,
                          "--decode", "8", "--reps", "1", "--threads", str(os.cpu_count())]))
        except (subprocess.CalledProcessError, FileNotFoundError):
            t = []
        tb = {r["prefill"]: r for r in t}
        cb = {r["prefill"]: r for r in composed}
        for r in own:
            o, c = tb.get(r["prefill"]), cb.get(r["prefill"])
            f = lambda x, k: f"{x[k]:.0f}" if x else "-"
            ratio = lambda a, k: f"{a[k] / o[k]:.2f}" if (o and a) else "-"
            md.append(f"| {shape} | {r['prefill']} | {f(r, 'prefill_ms')} | {f(c, 'prefill_ms')} | {f(o, 'prefill_ms')} | "
                      f"{ratio(r, 'prefill_ms')} | {ratio(c, 'prefill_ms')} | {f(r, 'decode_ms')} | {f(o, 'decode_ms')} | "
                      f"{ratio(r, 'decode_ms')} |")
            print(md[-1], flush=True)
    md += ["", "ratio = hico / torch (lower is better for hico).", ""]
    return md


def attention_vs_torch():
    """Causal attention alone: hico's kernel and burn-flex's fused op (`cargo bench -p hico-backend
    --bench attention`) beside PyTorch's SDPA (benches/torch_attention_bench.py)."""
    md = ["## Attention alone vs PyTorch SDPA (causal, f32, one layer's heads)", "",
          "hico's CPU kernel (`hico_kernels::attention`: 256-row query blocks × 512-key chunks, online",
          "softmax, vectorised exp, grouped-query heads read in place, strided inputs) and burn-flex's",
          "fused op (`attention = \"fused\"`, key/value heads repeated) from",
          "`cargo bench -p hico-backend --bench attention`; PyTorch eager",
          "`scaled_dot_product_attention(is_causal=True)` from `benches/torch_attention_bench.py`,",
          "same inputs' shapes and layouts ([1, L, H, 64] viewed as [1, H, L, 64]), median of 5.", "",
          "| shape | tokens | heads / kv heads | hico kernel (ms) | burn fused (ms) | torch SDPA (ms) | kernel / torch |",
          "|---|---|---|---|---|---|---|"]
    try:
        h = jsonl(sh(["cargo", "bench", "-q", "-p", "hico-backend", "--bench", "attention"]))
        t = jsonl(sh([sys.executable, "benches/torch_attention_bench.py", "--threads", str(os.cpu_count())]))
    except (subprocess.CalledProcessError, FileNotFoundError) as e:
        return md[:2] + [f"(not run: {e})", ""]
    tb = {(r["shape"], r["tokens"]): r for r in t}
    for r in h:
        o = tb.get((r["shape"], r["tokens"]))
        tm = f"{o['torch_ms']:.1f}" if o else "-"
        ratio = f"{r['kernel_ms'] / o['torch_ms']:.2f}" if o else "-"
        md.append(f"| {r['shape']} | {r['tokens']} | {r['heads']} / {r['kv_heads']} | {r['kernel_ms']:.1f} | "
                  f"{r['burn_fused_ms']:.1f} | {tm} | {ratio} |")
        print(md[-1], flush=True)
    return md + [""]


def long_video(tmp, quick):
    frames = [100, 400] if quick else [100, 1000, 4000]
    video = os.path.join(tmp, "long.mp4")
    sh(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
        f"testsrc2=size=160x120:rate=25:duration={max(frames) / 25 + 1}", "-c:v", "libx264",
        "-pix_fmt", "yuv420p", "-g", "50", video])
    md = ["## Long video, whole inference path (configs/tiny.toml, real H.264 file)", "",
          "Each row is a fresh process: decode (clip by clip) → encode → ToMe → MLP → prefill with",
          "uniform0_attention → one decode step. Peak RSS is the process's high-water mark; the heap",
          "peaks are exact (hico's counting allocator), above the loaded weights, per stage: streamed",
          "encoding keeps its working set flat, the prefill's grows with the tokens (KV cache and",
          "hidden states, no L×L buffer).", "",
          "| frames | visual tokens | encode (s) | prefill + decode (s) | encode heap peak (MiB) | prefill heap peak (MiB) | peak RSS (MiB) | KV cache (MiB) |",
          "|---|---|---|---|---|---|---|---|"]
    for n in frames:
        r = jsonl(sh([HICO, "bench", "long-video", "--config", "configs/tiny.toml", "--frames", str(n), "--video", video]))[0]
        md.append(f"| {n} | {r['visual_tokens']} | {r['encode_s']:.2f} | {r['prefill_and_decode_s']:.2f} | "
                  f"{r['encode_peak_heap_mib']:.1f} | {r['answer_peak_heap_mib']:.1f} | "
                  f"{r['peak_rss_mib']:.0f} | {r['kv_cache_mib']:.2f} |")
        print(md[-1], flush=True)
    return md + [""]


def dropout(tmp, quick):
    md = ["## Dropout schedules: measured prefill vs the FLOP ledger (tiny config, synthetic frames)", "",
          "| schedule | frames | visual tokens | prefill + decode (s) | measured speed-up | ledger FLOP ratio | KV cache (MiB) |",
          "|---|---|---|---|---|---|---|"]
    n = 400 if quick else 2000
    base_t = base_f = None
    for name, p in dropout_configs(tmp).items():
        r = jsonl(sh([HICO, "bench", "long-video", "--config", p, "--frames", str(n)]))[0]
        t, f = r["prefill_and_decode_s"], r["prefill_gflop"]
        base_t, base_f = base_t or t, base_f or f
        md.append(f"| {name} | {n} | {r['visual_tokens']} | {t:.2f} | {base_t / t:.2f}x | {base_f / f:.2f}x | "
                  f"{r['kv_cache_mib']:.2f} |")
        print(md[-1], flush=True)
    return md + ["", "Ledger FLOP ratio = analytic prefill FLOPs of `none` / of the schedule, from the token counts",
                 "actually kept (`ledger.json` of a run); the measured speed-up should approach it.", ""]


def train_step():
    r = jsonl(sh([HICO, "bench", "train-step", "--config", "configs/tiny.toml", "--frames", "8", "--steps", "3"]))[0]
    return ["## Full-model training step (configs/tiny.toml, 8 frames, forward + backward + AdamW)", "",
            f"{1e3 * r['step_s']:.1f} ms per step (loss {r['loss']:.3f}).", ""]


def backend():
    return ["## CPU backend", "",
            "hico uses burn's `flex` backend (pure Rust, rayon + SIMD) by default. Measured before the choice",
            "(docs/design.md, same machine kind, 2 cores, f32): a 2048³ matmul takes 99 ms in flex, 128 ms in ndarray",
            "and 89 ms in candle (deprecated in burn 0.21); [1,14,2048,64] attention 430 ms in flex vs 880 ms in",
            "ndarray and 990 ms in candle. Attention dominates long prefills, so flex is the default.",
            "The `gemm` crate (flex's matrix products) is built with its AVX-512 kernels (`x86-v4`, chosen",
            "at run time where the CPU has AVX-512; AVX2 + FMA or SSE kernels elsewhere), as PyTorch's",
            "oneDNN / MKL choose theirs: measured 20 % off a small-shape prefill and 35-40 % off the 0.5B",
            "shape's here (2026-12-02), 25-40 % off the training step (2026-12-03). Products round",
            "differently in the last bits on CPUs without AVX-512, so a model trained there is not",
            "bit-for-bit the one trained here. Before 2026-12-03 these kernels were an opt-in cargo",
            "feature (`avx512`); the tables of this page measured before then are the AVX2 build.", ""]


# Sections in document order: (key, its heading's stable start, how to make it).
SECTIONS = [
    ("long_video", "## Long video", lambda a, tmp, skip: long_video(tmp, a.quick)),
    ("dropout", "## Dropout schedules", lambda a, tmp, skip: dropout(tmp, a.quick)),
    ("llm", "## LLM prefill and decode", lambda a, tmp, skip: llm_vs_torch(a.quick)),
    ("attention", "## Attention alone", lambda a, tmp, skip: attention_vs_torch()),
    ("train_step", "## Full-model training step", lambda a, tmp, skip: train_step()),
    ("llm_memory", "## LLM memory", lambda a, tmp, skip: llm_memory(tmp, skip)),
    ("train_torch", "## Training step vs PyTorch", lambda a, tmp, skip: train_vs_torch(tmp, 10 if a.quick else 40, 1 if a.quick else 3)),
    ("video", "## Video sampling", lambda a, tmp, skip: video_vs_decord()),
    ("vision", "## Vision encoder and compressors", lambda a, tmp, skip: vision_vs_torch(2 if a.quick else 5)),
    ("profile", "## Where the CPU time goes", lambda a, tmp, skip: profiles(tmp)),
    ("backend", "## CPU backend", lambda a, tmp, skip: backend()),
]


def blocks(text):
    """A document split at its `## ` headings: [(heading line or '', lines)]."""
    out = [("", [])]
    for line in text.splitlines():
        if line.startswith("## "):
            out.append((line, []))
        out[-1][1].append(line)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run of the script)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "performance.md"))
    keys = ", ".join(k for k, _, _ in SECTIONS)
    ap.add_argument("--skip", default="", help=f"comma list of sections to leave out ({keys}; release2b: only the 2B load)")
    ap.add_argument("--only", default="", help="comma list of sections to re-measure; the others are kept as they "
                    "are in the existing --out file (each section says when it was measured)")
    ap.add_argument("--isa", choices=sorted(ISA_CAPS), help="cap hico's and PyTorch's instruction set "
                    "(an AVX2 machine's kernels on an AVX-512 one)")
    a = ap.parse_args()
    if a.isa:
        os.environ.update(ISA_CAPS[a.isa])
    skip = set(filter(None, a.skip.split(",")))
    only = set(filter(None, a.only.split(",")))
    unknown = (only | skip) - {k for k, _, _ in SECTIONS} - {"release2b"}
    if unknown:
        sys.exit(f"unknown section(s) {sorted(unknown)}: expected {keys}")
    if not os.path.exists(HICO):
        sys.exit(f"{HICO} missing: run `cargo build --release` first")
    tmp = tempfile.mkdtemp(prefix="hico-perf-")
    load = os.getloadavg()[0]
    stamp = (f"Measured {datetime.date.today()} on {machine()}; load average {load:.1f} when the run started "
             "(above ~0.5 something else was running: read timings as rough).")
    old = blocks(open(a.out).read()) if (only and os.path.exists(a.out)) else []
    md = ["# Performance", "",
          "Regenerate with one command: `cargo build --release && /opt/hico-venv/bin/python benches/perf_report.py`",
          "(the side-by-side harnesses live in `benches/`, see benches/README.md; `--only llm,attention` re-measures",
          "some sections and keeps the others).", "",
          f"Machine: {machine()}.", "",
          "Each section says when it was measured. GPU figures: [gpu.md](gpu.md).", ""]
    # Hand-written sections of the existing file (headings no section makes) stay, before the
    # backend section: notes that read the numbers.
    notes = [lines for h, lines in (blocks(open(a.out).read()) if os.path.exists(a.out) else [])
             if h and not any(h.startswith(hd) for _, hd, _ in SECTIONS)]
    for key, heading, make in SECTIONS:
        if key == "backend":
            for lines in notes:
                md += lines
        if key in skip:
            continue
        if only and key not in only:
            kept = next((lines for h, lines in old if h.startswith(heading)), None)
            if kept:
                md += kept
            continue
        sec = make(a, tmp, skip)
        md += sec[:2] + [stamp, ""] + sec[2:]
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    open(a.out, "w").write("\n".join(md).rstrip("\n") + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
