#!/usr/bin/env python3
"""Training-step speed of the bench pipeline (configs/train/bench_small_pipeline.toml) in
PyTorch eager, to compare with hico's `tokens_per_s` on the same machine.

Usage:
  hico train --make-synth data/tiny_synth
  hico train --config configs/train/bench_small.toml --out runs/train/bench_small
  /opt/hico-venv/bin/python benches/train_bench_torch.py --hico-metrics runs/train/bench_small/metrics.jsonl

The step is the same as hico's: one sample = 4 frames of 64 px through a 2-block ViT
(width 128, 4 heads, qkv without key bias, GELU MLP, final LayerNorm), average pooling to
2x2 tokens per frame, an MLP connector, a 4-layer Qwen2 (width 256, GQA 4/2, byte-level
vocabulary of 259) on the spliced sequence with the same prompt lengths, cross entropy on
the answer tokens, backward, AdamW on every parameter. Reports the median over steps of
LLM input tokens per second (hico's `tokens_per_s`), after warm-up steps.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F
from torch import nn
from transformers import Qwen2Config, Qwen2ForCausalLM

SPECIAL = ["<|im_start|>", "<|im_end|>", "<|endoftext|>"]


def byte_tokens(text: str) -> int:
    """Length under hico's byte-level tokenizer: specials are one token, other text bytes."""
    n = 0
    while text:
        for s in SPECIAL:
            if text.startswith(s):
                n, text = n + 1, text[len(s):]
                break
        else:
            n, text = n + len(text[0].encode()), text[1:]
    return n


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(d, eps=1e-6), nn.LayerNorm(d, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.q_bias, self.v_bias = nn.Parameter(torch.zeros(d)), nn.Parameter(torch.zeros(d))
        self.proj = nn.Linear(d, d)
        self.fc1, self.fc2 = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x):
        n, t, d = x.shape
        bias = torch.cat([self.q_bias, torch.zeros_like(self.q_bias), self.v_bias])
        qkv = F.linear(self.norm1(x), self.qkv.weight, bias)
        q, k, v = qkv.reshape(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        a = torch.softmax(q @ k.transpose(-1, -2) / (d // self.heads) ** 0.5, -1) @ v
        x = x + self.proj(a.transpose(1, 2).reshape(n, t, d))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class Model(nn.Module):
    def __init__(self, vocab: int):
        super().__init__()
        self.patch = nn.Linear(3 * 16 * 16, 128)
        self.pos = torch.randn(1, 4 * 16, 128) * 0.02  # fixed table, not trained
        self.blocks = nn.ModuleList([Block(128, 4) for _ in range(2)])
        self.norm = nn.LayerNorm(128, eps=1e-12)
        self.connector = nn.Sequential(nn.Linear(128, 256), nn.GELU(), nn.Linear(256, 256))
        cfg = Qwen2Config(vocab_size=vocab, hidden_size=256, intermediate_size=512,
                          num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
                          rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True,
                          attn_implementation="eager")
        self.llm = Qwen2ForCausalLM(cfg)

    def forward(self, clip, before, after, n_answer):
        l, c, h, w = clip.shape  # one clip [L, 3, 64, 64]
        p = clip.reshape(l, c, h // 16, 16, w // 16, 16).permute(0, 2, 4, 1, 3, 5)
        x = self.patch(p.reshape(1, l * 16, c * 256)) + self.pos
        for b in self.blocks:
            x = b(x)
        x = self.norm(x).reshape(l, 4, 4, 128).permute(0, 3, 1, 2)
        x = F.avg_pool2d(x, 2).permute(0, 2, 3, 1).reshape(l * 4, 128)
        vis = self.connector(x)
        emb = self.llm.get_input_embeddings()
        seq = torch.cat([emb(before)[0], vis, emb(after)[0]])[None]
        logits = self.llm(inputs_embeds=seq).logits[0]
        targets = after[0, -n_answer:]
        return F.cross_entropy(logits[-n_answer - 1:-1], targets)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    ap.add_argument("--hico-metrics", help="hico metrics.jsonl of the same config, for the ratio")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    before = byte_tokens("<|im_start|>system\nAnswer in one word.<|im_end|>\n<|im_start|>user\n")
    question = ("\nThe video lasts for 1.00 seconds, and 4 frames are uniformly sampled from it. "
                "What colour is the video?<|im_end|>\n<|im_start|>assistant\n")
    n_answer = byte_tokens("green<|im_end|>")
    after = byte_tokens(question) + n_answer
    vocab = 259
    model = Model(vocab)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-8, weight_decay=0.0)
    clip = torch.randn(4, 3, 64, 64)
    b_ids = torch.randint(0, 256, (1, before))
    a_ids = torch.randint(0, 256, (1, after))
    tokens = before + 16 + after
    rates = []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss = model(clip, b_ids, a_ids, n_answer)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if step >= args.warmup:
            rates.append(tokens / dt)
    torch_rate = statistics.median(rates)
    print(f"sequence: {before} + 16 visual + {after} = {tokens} tokens, {n_answer} answer tokens")
    print(f"pytorch eager {torch.__version__}, {torch.get_num_threads()} threads: "
          f"{torch_rate:.0f} tokens/s (median of {args.steps} steps)")
    if args.hico_metrics:
        with open(args.hico_metrics) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        hico = statistics.median(m["tokens_per_s"] for m in lines[args.warmup:])
        print(f"hico: {hico:.0f} tokens/s (median of {len(lines) - args.warmup} steps); "
              f"hico / pytorch = {hico / torch_rate:.2f}")


if __name__ == "__main__":
    main()
