#!/usr/bin/env python3
"""PyTorch side of the hico-vision CPU bench: the same work on the same inputs as
crates/hico-vision/benches/vision.rs, per clip of 4 frames at 224 and 448 px.

* encoder: the PyTorch UMT re-implementation of scripts/make_vision_fixtures.py (checked
  against the reference's umt/vit.py) at the bench's reduced config (width 256, 4 blocks,
  4 heads, explicit softmax attention like the reference's non-flash path);
* tome: the reference rule of tome16_mlp_hd64.py (merge_tokens: no membership tracking);
* pool (and pool_dense, hico's pool algorithm before issue #17): F.adaptive_avg_pool2d of
  every frame to 4 x 4.
tome_ordered, temporal and identity have no PyTorch counterpart (n/a).

Reads target/hico-vision-bench.json (written by `cargo bench -p hico-vision`) and prints
hico / torch ratios (> 1: hico slower).
Usage: /opt/hico-venv/bin/python benches/vision_bench_torch.py [reps]
"""
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import make_vision_fixtures as fx  # noqa: E402  (scripts/make_vision_fixtures.py)

ROOT = os.path.join(os.path.dirname(__file__), "..")
WIDTH = 1024
M = (1 << 64) - 1


def noise(n, seed):
    """The bench's LCG (vision.rs `noise`)."""
    s, out = seed, [0.0] * n
    for i in range(n):
        s = (s * 6364136223846793005 + 1442695040888963407) & M
        out[i] = ((s >> 40) / float(1 << 24)) * 2.0 - 1.0
    return torch.tensor(out, dtype=torch.float32)


def tome_reference(x, target, head_dim=64):
    """merge_tokens of tome16_mlp_hd64.py on x [1, N, D] (bipartite matching + wavg)."""
    size = torch.ones_like(x[..., :1])
    for r in fx.schedule(x.shape[1], target):
        b, p, c = x.shape
        metric = x.reshape(b, p, c // head_dim, head_dim).mean(2)
        metric = metric / metric.norm(dim=-1, keepdim=True)
        a, bb = metric[..., ::2, :], metric[..., 1::2, :]
        node_max, node_idx = (a @ bb.transpose(-1, -2)).max(dim=-1)
        edge = node_max.argsort(dim=-1, descending=True)[..., None]
        unm, src = edge[..., r:, :], edge[..., :r, :]
        dst = node_idx[..., None].gather(dim=-2, index=src)

        def merge(t):
            s, d = t[..., ::2, :], t[..., 1::2, :]
            n, t1, ch = s.shape
            u = s.gather(dim=-2, index=unm.expand(n, t1 - r, ch))
            sv = s.gather(dim=-2, index=src.expand(n, r, ch))
            return torch.cat([u, d.scatter_add(-2, dst.expand(n, r, ch), sv)], dim=1)

        xs, size = merge(x * size), merge(size)
        x = xs / size
    return x


def median_ms(reps, f):
    f()
    ts = []
    for _ in range(reps):
        s = time.perf_counter()
        f()
        ts.append((time.perf_counter() - s) * 1e3)
    return statistics.median(ts)


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_grad_enabled(False)
    fx.CFG.update(width=256, depth=4, heads=4, output_blocks=4, pos_grid=14)
    w = fx.make_weights(torch.Generator().manual_seed(0))
    torch_ms = {}
    for px in (224, 448):
        clip = noise(4 * 3 * px * px, 1).reshape(1, 4, 3, px, px)
        torch_ms[("encoder", px)] = median_ms(reps, lambda: fx.encoder_forward(w, clip))
        g = px // 16
        tokens = noise(4 * g * g * WIDTH, 2).reshape(1, 4 * g * g, WIDTH)
        torch_ms[("tome", px)] = median_ms(reps, lambda: tome_reference(tokens, 64))
        frames = tokens.reshape(4, g, g, WIDTH).permute(0, 3, 1, 2)
        torch_ms[("pool", px)] = median_ms(reps, lambda: F.adaptive_avg_pool2d(frames, 4))
        torch_ms[("pool_dense", px)] = torch_ms[("pool", px)]  # hico's pool before issue #17
    path = os.path.join(ROOT, "target", "hico-vision-bench.json")
    hico = {}
    if os.path.exists(path):
        hico = {(r["stage"], r["px"]): r["ms"] for r in json.load(open(path))}
    else:
        print(f"({path} missing: run `cargo bench -p hico-vision` first)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"| stage | px | hico ms/clip | torch ms/clip | hico/torch |")
    print(f"|---|---|---|---|---|")
    keys = sorted(set(hico) | set(torch_ms), key=lambda k: (k[1], k[0]))
    for k in keys:
        h, t = hico.get(k), torch_ms.get(k)
        hs = f"{h:.2f}" if h is not None else "n/a"
        ts = f"{t:.2f}" if t is not None else "n/a"
        ratio = f"{h / t:.2f}" if h is not None and t is not None else "n/a"
        print(f"| {k[0]} | {k[1]} | {hs} | {ts} | {ratio} |")


if __name__ == "__main__":
    main()
