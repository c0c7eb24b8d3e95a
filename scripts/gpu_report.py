#!/usr/bin/env python3
"""Turn the JSON lines of scripts/gpu-check.sh into a markdown report (stdout).

Usage: python3 scripts/gpu_report.py gpu-check.jsonl > docs/gpu.md
"""
import json
import os
import sys


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
    gpu = next((r for r in rows if r.get("check") == "gpu"), {})
    out = [f"# GPU check: {gpu.get('name', '?')} (driver {gpu.get('driver', '?')}, {gpu.get('memory', '?')})", ""]
    out += ["Produced by `scripts/gpu-build.sh` (on a CPU machine) and `scripts/gpu-check.sh` (on the GPU machine),",
            "then `scripts/gpu_report.py`. Numbers are medians of a few repetitions after a warm-up.", ""]
    par = [r for r in rows if r.get("check") == "llm_parity"]
    if par:
        out += ["## LLM parity with transformers fixtures on CUDA", "",
                "| impl | model | dtype | max abs logit diff | greedy tokens match |", "|---|---|---|---|---|"]
        out += [f"| {r.get('impl', 'hico')} | {r['model']} | {r['dtype']} | {r['max_abs_logit_diff']:.2e} | {r['greedy_match']} |"
                for r in par]
        out.append("")
    ts = [r for r in rows if r.get("check") == "train_step"]
    if ts:
        out += ["## Training step (tiny config, full model, forward + backward + AdamW)", "",
                "| frames | dtype | step (ms) | loss |", "|---|---|---|---|"]
        out += [f"| {r['frames']} | {r['dtype']} | {1e3 * r['step_s']:.1f} | {r['loss']:.3f} |" for r in ts]
        out.append("")
    llm = {}
    for r in rows:
        if "prefill_ms" in r:
            llm.setdefault((r["shape"], r["dtype"], r["prefill"]), {})[r["impl"]] = r
    if llm:
        out += ["## LLM prefill and decode, random weights of the released shapes", "",
                "| shape | dtype | prefill tokens | hico prefill (ms) | hico fused-attention prefill (ms) | torch prefill (ms) | ratio | hico decode (ms/token) | torch decode (ms/token) | ratio |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for (shape, dt, n), d in sorted(llm.items()):
            h, hf, t = d.get("hico"), d.get("hico_fused"), d.get("torch")
            f = lambda r, k: f"{r[k]:.1f}" if r else "-"
            ratio = lambda k: f"{h[k] / t[k]:.2f}" if h and t else "-"
            out.append(f"| {shape} | {dt} | {n} | {f(h, 'prefill_ms')} | {f(hf, 'prefill_ms')} | {f(t, 'prefill_ms')} | "
                       f"{ratio('prefill_ms')} | {f(h, 'decode_ms')} | {f(t, 'decode_ms')} | {ratio('decode_ms')} |")
        out += ["", "ratio = hico / torch (lower is better for hico); fused attention: `HICO_ATTENTION=fused`.", ""]
    lv = [r for r in rows if "encode_s" in r]
    if lv:
        out += ["## Long video (videochat_flash_2b_shape: UMT-L 448 px + Qwen2.5-1.5B shapes, tome 16 tokens/frame, uniform0_attention)", "",
                "impl: `hico` = tiled attention with 256-token tiles, `hico_b<N>` = N-token tiles",
                "(`HICO_ATTENTION_BLOCK`), `hico_fused` = burn's fused op (`HICO_ATTENTION=fused`).", "",
                "| config | impl | frames | dtype | visual tokens | encode (s) | prefill + 1 decode (s) | KV cache (MiB) | peak GPU (MiB) |",
                "|---|---|---|---|---|---|---|---|---|"]
        out += [f"| {os.path.basename(r.get('config', '-'))} | {r.get('impl', 'hico')} | {r['frames']} | {r['dtype']} | "
                f"{r['visual_tokens']} | {r['encode_s']:.1f} | {r['prefill_and_decode_s']:.1f} | {r['kv_cache_mib']:.0f} | "
                f"{r.get('peak_gpu_mib', '-')} |" for r in lv]
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
