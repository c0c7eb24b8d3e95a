#!/usr/bin/env python3
"""PyTorch-eager twin of crates/hico-llm/benches/llm.rs: prefill 512/2048 and a decode step
of a Qwen2-0.5B-shaped random model on CPU, f32, same thread count; writes a JSON the Rust
bench reads (HICO_TORCH_BENCH) to print ratios.

Usage: /opt/hico-venv/bin/python scripts/llm_bench_torch.py [--threads N] [--small] [--out F]
"""
import argparse
import json
import os
import resource
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--small", action="store_true", help="4 layers instead of 24")
ap.add_argument("--out", default="target/llm_bench_torch.json")
args = ap.parse_args()
torch.set_num_threads(args.threads)
cfg = Qwen2Config(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                  num_hidden_layers=4 if args.small else 24, num_attention_heads=14,
                  num_key_value_heads=2, rope_theta=1e6, tie_word_embeddings=True)
cfg._attn_implementation = "sdpa"
model = Qwen2ForCausalLM(cfg).float().eval()
res = {}
with torch.inference_mode():
    for n in (512, 2048):
        ids = torch.tensor([[(i * 7919) % 151936 for i in range(n)]])
        t = time.perf_counter()
        out = model(ids, use_cache=True, logits_to_keep=1)
        res[f"prefill_{n}"] = time.perf_counter() - t
        if n == 512:
            past, steps = out.past_key_values, 8
            t = time.perf_counter()
            for i in range(steps):
                out = model(torch.tensor([[i]]), past_key_values=past, use_cache=True)
                past = out.past_key_values
            res["decode_step_after_512"] = (time.perf_counter() - t) / steps
res["peak_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
res["threads"] = args.threads
print(json.dumps(res, indent=1))
os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
with open(args.out, "w") as f:
    json.dump(res, f)
