#!/usr/bin/env python3
"""Training-step speed of the bench pipelines (configs/train/bench_small_pipeline.toml, and with
`--shape large` configs/train/bench_large_pipeline.toml) in PyTorch eager, to compare with
hico's `tokens_per_s` on the same machine.

Usage:
  hico train --make-synth data/tiny_synth
  hico train --config configs/train/bench_small.toml --out runs/train/bench_small
  /opt/hico-venv/bin/python benches/train_bench_torch.py --hico-metrics runs/train/bench_small/metrics.jsonl

The step is the same as hico's: one sample = 4 frames of 64 px through a 2-block ViT
(width 128, 4 heads, qkv without key bias, GELU MLP, final LayerNorm), average pooling to
2x2 tokens per frame, an MLP connector, a 4-layer Qwen2 (width 256, GQA 4/2, byte-level
vocabulary of 259) on the spliced sequence with the same prompt lengths, cross entropy on
the answer tokens, backward, AdamW on every parameter. `--shape large`: 128 px frames in
8 px patches, every patch token kept (1,024 visual tokens), a 2-layer Qwen2 of Qwen2.5-0.5B's
widths (896, GQA 14/2, MLP 4,864). Reports the median over steps of
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


# The two pipelines: frame size, patch size, pooled grid per frame (None: keep every patch
# token), LLM hidden / MLP / layers / heads / KV heads.
SHAPES = {
    "small": dict(size=64, patch=16, pooled=2, hidden=256, mlp=512, layers=4, heads=4, kv=2),
    "large": dict(size=128, patch=8, pooled=None, hidden=896, mlp=4864, layers=2, heads=14, kv=2),
}


class Model(nn.Module):
    def __init__(self, vocab: int, shape: dict):
        super().__init__()
        self.s = shape
        grid = shape["size"] // shape["patch"]
        self.patch = nn.Linear(3 * shape["patch"] ** 2, 128)
        self.pos = torch.randn(1, 4 * grid * grid, 128) * 0.02  # fixed table, not trained
        self.blocks = nn.ModuleList([Block(128, 4) for _ in range(2)])
        self.norm = nn.LayerNorm(128, eps=1e-12)
        d = shape["hidden"]
        self.connector = nn.Sequential(nn.Linear(128, d), nn.GELU(), nn.Linear(d, d))
        cfg = Qwen2Config(vocab_size=vocab, hidden_size=d, intermediate_size=shape["mlp"],
                          num_hidden_layers=shape["layers"], num_attention_heads=shape["heads"],
                          num_key_value_heads=shape["kv"],
                          rope_theta=1e6, rms_norm_eps=1e-6, tie_word_embeddings=True,
                          attn_implementation="eager")
        self.llm = Qwen2ForCausalLM(cfg)

    def forward(self, clip, before, after, n_answer):
        l, c, h, w = clip.shape  # one clip [L, 3, size, size]
        ps = self.s["patch"]
        gh, gw = h // ps, w // ps
        p = clip.reshape(l, c, gh, ps, gw, ps).permute(0, 2, 4, 1, 3, 5)
        x = self.patch(p.reshape(1, l * gh * gw, c * ps * ps)) + self.pos
        for b in self.blocks:
            x = b(x)
        x = self.norm(x).reshape(l, gh, gw, 128)
        if self.s["pooled"]:
            x = F.adaptive_avg_pool2d(x.permute(0, 3, 1, 2), self.s["pooled"]).permute(0, 2, 3, 1)
        vis = self.connector(x.reshape(-1, 128))
        emb = self.llm.get_input_embeddings()
        seq = torch.cat([emb(before)[0], vis, emb(after)[0]])[None]
        logits = self.llm(inputs_embeds=seq).logits[0]
        targets = after[0, -n_answer:]
        return F.cross_entropy(logits[-n_answer - 1:-1], targets)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", choices=sorted(SHAPES), default="small")
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
    shape = SHAPES[args.shape]
    model = Model(vocab, shape)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, eps=1e-8, weight_decay=0.0)
    clip = torch.randn(4, 3, shape["size"], shape["size"])
    b_ids = torch.randint(0, 256, (1, before))
    a_ids = torch.randint(0, 256, (1, after))
    grid = shape["pooled"] or shape["size"] // shape["patch"]
    visual = 4 * grid * grid
    tokens = before + visual + after
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
    print(f"{args.shape}: sequence: {before} + {visual} visual + {after} = {tokens} tokens, {n_answer} answer tokens")
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
