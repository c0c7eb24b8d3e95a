#!/usr/bin/env python3
"""Causal attention alone in PyTorch eager (`scaled_dot_product_attention`, grouped-query
heads repeated as transformers' sdpa path does), at the shapes of
`cargo bench -p hico-backend --bench attention`; median of 5 after one warm-up, one JSON line
per row (same fields, `torch_ms`).

  /opt/hico-venv/bin/python benches/torch_attention_bench.py [--threads N]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F


def median_ms(f):
    f()
    t = []
    for _ in range(5):
        s = time.perf_counter()
        f()
        t.append((time.perf_counter() - s) * 1e3)
    return sorted(t)[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for shape, heads, kv, d in [("small", 4, 2, 64), ("qwen2_5_0_5b", 14, 2, 64)]:
        for l in [512, 2048, 8192]:
            if shape != "small" and l > 2048:
                continue
            # As transformers' Qwen2 leaves them: [1, L, H, d] transposed to [1, H, L, d].
            q = torch.randn(1, l, heads, d).transpose(1, 2)
            k = torch.randn(1, l, kv, d).transpose(1, 2)
            v = torch.randn(1, l, kv, d).transpose(1, 2)

            def run():
                with torch.no_grad():
                    kr = k.repeat_interleave(heads // kv, dim=1)
                    vr = v.repeat_interleave(heads // kv, dim=1)
                    F.scaled_dot_product_attention(q, kr, vr, is_causal=True)

            print(json.dumps({"shape": shape, "tokens": l, "heads": heads, "kv_heads": kv,
                              "head_dim": d, "torch_ms": round(median_ms(run), 2)}), flush=True)


if __name__ == "__main__":
    main()
