#!/usr/bin/env python3
"""PyTorch eager side of the LLM prefill/decode benchmark (the reference for `hico bench llm`).

Builds a randomly initialised Qwen2 of a named shape with `transformers`, then times a prefill of
each requested length and per-token decode with the KV cache, on the same device and dtype as
the hico run it is compared with. Prints one JSON object per line:
  {"impl": "torch", "shape": ..., "dtype": ..., "device": ..., "prefill": L, "prefill_ms": ..., "decode_ms": ..., "peak_mib": ...}

Usage: python3 benches/torch_llm_bench.py --shape qwen2_5_0_5b --device cuda --dtype bf16 --prefill 512,2048
Also the reference of crates/hico-llm/benches/llm.rs (CPU, f32): save its output to a file and
pass the path in HICO_TORCH_BENCH.
"""
import argparse
import json
import resource
import time

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

SHAPES = {
    # hidden, intermediate, layers, heads, kv_heads, vocab, tied  (HF config.json of the released models)
    "qwen2_5_0_5b": (896, 4864, 24, 14, 2, 151936, True),
    "qwen2_5_1_5b": (1536, 8960, 28, 12, 2, 151936, True),
    "qwen2_5_0_5b_4layers": (896, 4864, 4, 14, 2, 151936, True),  # HICO_BENCH_SMALL of hico-llm's bench
    "small": (256, 1024, 4, 4, 2, 4096, True),
}


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="qwen2_5_0_5b", choices=sorted(SHAPES))
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16"])
    ap.add_argument("--prefill", default="512,2048")
    ap.add_argument("--decode", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    h, i, l, nh, kv, vocab, tied = SHAPES[a.shape]
    cfg = Qwen2Config(hidden_size=h, intermediate_size=i, num_hidden_layers=l, num_attention_heads=nh,
                      num_key_value_heads=kv, vocab_size=vocab, tie_word_embeddings=tied,
                      max_position_embeddings=32768, attn_implementation="sdpa")
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(cfg).to(device=a.device, dtype=dtype).eval()
    for n in [int(x) for x in a.prefill.split(",")]:
        ids = torch.randint(0, vocab, (1, n), device=a.device)
        times, dec = [], []
        if a.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        with torch.no_grad():
            for _ in range(a.reps + 1):  # first run warms up
                sync(a.device)
                t0 = time.perf_counter()
                out = model(ids, use_cache=True)
                sync(a.device)
                times.append(time.perf_counter() - t0)
                past = out.past_key_values
                tok = out.logits[:, -1:].argmax(-1)
                sync(a.device)
                t0 = time.perf_counter()
                for _ in range(a.decode):
                    out = model(tok, past_key_values=past, use_cache=True)
                    past = out.past_key_values
                    tok = out.logits[:, -1:].argmax(-1)
                sync(a.device)
                dec.append((time.perf_counter() - t0) / a.decode)
        if a.device.startswith("cuda"):
            peak = torch.cuda.max_memory_allocated() / 2**20
        else:  # peak resident set of the process (Linux reports KiB)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"impl": "torch", "shape": a.shape, "dtype": a.dtype, "device": a.device,
                          "prefill": n, "prefill_ms": 1e3 * sorted(times[1:])[len(times[1:]) // 2],
                          "decode_ms": 1e3 * sorted(dec[1:])[len(dec[1:]) // 2], "peak_mib": peak}), flush=True)


if __name__ == "__main__":
    main()
