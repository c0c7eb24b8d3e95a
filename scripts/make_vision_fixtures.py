#!/usr/bin/env python3
"""Make the parity fixtures of crates/hico-vision/tests/fixtures/ (run with /opt/hico-venv).

Two independent PyTorch re-implementations, written from the reference's source
(OpenGVLab/VideoChat-Flash, llava-train_videochat/llava/model/):

* tome.safetensors: the `tome16_mlp_hd64.py` merge rule (bipartite soft matching on the
  head-averaged metric, cosine, size-weighted merge, r halving per round, reference output
  order) on random clips. Per case `<name>`: `input` [C, N, D], expected `features`
  [C, k, D], `sizes` [C, k], `assign` [C, N] (output index of every input token, which
  fixes membership AND order), `meta` = [frames, h, w, tokens_per_frame].
* encoder_weights.safetensors / encoder_io.safetensors: a tiny UMT encoder (`umt/vit.py`:
  Conv3d patch embed with kernel (1, 16, 16), sinusoid space-time table interpolated
  bicubically per frame, pre-norm blocks with q/v biases, LayerNorm eps 1e-12 after
  `output_blocks` blocks) with random weights under the reference key names, and its
  output on fixed inputs.

Usage: /opt/hico-venv/bin/python scripts/make_vision_fixtures.py
"""
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "hico-vision", "tests", "fixtures")
HEAD_DIM = 64  # "hd64": the metric averages heads of 64 channels


# ------------------------------------------------------------------------------- ToMe
def schedule(p, target):
    out = []
    while p != target:
        if p - target <= p // 2:
            out.append(p - target)
            break
        out.append(p // 2)
        p -= p // 2
    return out


def tome_clip(x, target):
    """x: [N, D] one clip. Returns merged [k, D], sizes [k], assign [N], min gaps."""
    n, d = x.shape
    size = torch.ones(n, 1, dtype=x.dtype)
    ids = [[i] for i in range(n)]
    gaps = []
    for r in schedule(n, target):
        p = x.shape[0]
        r = min(r, p // 2)
        groups = d // HEAD_DIM if d % HEAD_DIM == 0 else 1
        metric = x.reshape(p, groups, d // groups).mean(1)
        metric = metric / metric.norm(dim=-1, keepdim=True)
        a, b = metric[0::2], metric[1::2]
        scores = a @ b.T
        node_max, node_idx = scores.max(dim=-1)
        order = node_max.argsort(descending=True)
        top2 = scores.topk(2, dim=-1).values if scores.shape[1] > 1 else None
        srt = node_max[order]
        gaps.append(min(
            float((srt[:-1] - srt[1:]).min()) if len(srt) > 1 else 1.0,
            float((top2[:, 0] - top2[:, 1]).min()) if top2 is not None else 1.0,
        ))
        unm, src = order[r:], order[:r]
        dst = node_idx[src]
        xs = x * size
        ev, od = xs[0::2], xs[1::2]
        sev, sod = size[0::2], size[1::2]
        new_x = torch.cat([ev[unm], od.index_add(0, dst, ev[src])])
        new_s = torch.cat([sev[unm], sod.index_add(0, dst, sev[src])])
        x, size = new_x / new_s, new_s
        even_ids, odd_ids = ids[0::2], [list(v) for v in ids[1::2]]
        for s, t in zip(src.tolist(), dst.tolist()):
            odd_ids[t] += even_ids[s]
        ids = [even_ids[e] for e in unm.tolist()] + odd_ids
    assign = torch.empty(n, dtype=torch.int64)
    for j, members in enumerate(ids):
        assign[members] = j
    return x, size[:, 0], assign, min(gaps) if gaps else 1.0


def tome_cases():
    g = torch.Generator().manual_seed(5)
    cases = [  # name, clips, frames, h, w, tpf, D
        ("f4_4x4_t4", 2, 4, 4, 4, 4, 128),
        ("f4_4x4_t5", 2, 4, 4, 4, 5, 128),
        ("f4_7x7_t16", 2, 4, 7, 7, 16, 128),
        ("f4_7x7_t3", 1, 4, 7, 7, 3, 128),
        ("f4_14x14_t16", 1, 4, 14, 14, 16, 64),
    ]
    out = {}
    for name, c, f, h, w, tpf, d in cases:
        x = torch.randn(c, f * h * w, d, generator=g)
        feats, sizes, assigns, gap = [], [], [], 1.0
        for ci in range(c):
            fx, sz, asg, gp = tome_clip(x[ci], tpf * f)
            feats.append(fx)
            sizes.append(sz)
            assigns.append(asg)
            gap = min(gap, gp)
        print(f"tome {name}: N={f*h*w} -> {tpf*f}, schedule {schedule(f*h*w, tpf*f)}, "
              f"smallest score gap {gap:.2e}")
        out[f"{name}.input"] = x
        out[f"{name}.features"] = torch.stack(feats)
        out[f"{name}.sizes"] = torch.stack(sizes)
        out[f"{name}.assign"] = torch.stack(assigns)
        out[f"{name}.meta"] = torch.tensor([f, h, w, tpf], dtype=torch.int64)
    return out


# ---------------------------------------------------------------------------- encoder
CFG = dict(width=32, depth=3, heads=2, mlp_ratio=4.0, patch=16, output_blocks=2, pos_grid=2,
           ln_eps=1e-6)


def sinusoid(n, d):
    pos = np.arange(n)[:, None]
    j = np.arange(d)[None, :]
    table = pos / np.power(10000, 2 * (j // 2) / d)
    table[:, 0::2] = np.sin(table[:, 0::2])
    table[:, 1::2] = np.cos(table[:, 1::2])
    return torch.tensor(table, dtype=torch.float)


def pos_embed(frames, g, h, w, d):
    table = sinusoid(frames * g * g, d)
    if (h, w) == (g, g):
        return table[None]
    t = table.reshape(frames, g, g, d).permute(0, 3, 1, 2)
    t = F.interpolate(t, size=(h, w), mode="bicubic", align_corners=False)
    return t.permute(0, 2, 3, 1).reshape(1, frames * h * w, d)


def make_weights(g):
    d, p = CFG["width"], CFG["patch"]
    m = int(d * CFG["mlp_ratio"])
    rnd = lambda *s, std=0.2: torch.randn(*s, generator=g) * std
    w = {"encoder.patch_embed.proj.weight": rnd(d, 3, 1, p, p, std=0.05),
         "encoder.patch_embed.proj.bias": rnd(d)}
    for i in range(CFG["depth"]):
        b = f"encoder.blocks.{i}."
        w.update({
            b + "norm1.weight": 1 + rnd(d), b + "norm1.bias": rnd(d),
            b + "attn.qkv.weight": rnd(3 * d, d), b + "attn.q_bias": rnd(d),
            b + "attn.v_bias": rnd(d), b + "attn.proj.weight": rnd(d, d),
            b + "attn.proj.bias": rnd(d),
            b + "norm2.weight": 1 + rnd(d), b + "norm2.bias": rnd(d),
            b + "mlp.fc1.weight": rnd(m, d), b + "mlp.fc1.bias": rnd(m),
            b + "mlp.fc2.weight": rnd(d, m, std=0.1), b + "mlp.fc2.bias": rnd(d),
        })
    w["encoder.vision_layernorm.weight"] = 1 + rnd(d)
    w["encoder.vision_layernorm.bias"] = rnd(d)
    return w


def encoder_forward(w, clips):
    """clips: [n, L, 3, H, W] -> [n, L*h*w, D]."""
    d, p, heads = CFG["width"], CFG["patch"], CFG["heads"]
    n, frames, _, hh, ww = clips.shape
    x = F.conv3d(clips.permute(0, 2, 1, 3, 4), w["encoder.patch_embed.proj.weight"],
                 w["encoder.patch_embed.proj.bias"], stride=(1, p, p))
    x = x.flatten(2).transpose(1, 2)  # [n, L*h*w, D], space-time order
    x = x + pos_embed(frames, CFG["pos_grid"], hh // p, ww // p, d)
    for i in range(CFG["output_blocks"]):
        b = f"encoder.blocks.{i}."
        h = F.layer_norm(x, (d,), w[b + "norm1.weight"], w[b + "norm1.bias"], CFG["ln_eps"])
        bias = torch.cat([w[b + "attn.q_bias"], torch.zeros(d), w[b + "attn.v_bias"]])
        qkv = F.linear(h, w[b + "attn.qkv.weight"], bias)
        qkv = qkv.reshape(n, -1, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q * (d // heads) ** -0.5) @ k.transpose(-2, -1)).softmax(-1)
        o = (attn @ v).transpose(1, 2).reshape(n, -1, d)
        x = x + F.linear(o, w[b + "attn.proj.weight"], w[b + "attn.proj.bias"])
        h = F.layer_norm(x, (d,), w[b + "norm2.weight"], w[b + "norm2.bias"], CFG["ln_eps"])
        h = F.linear(F.gelu(F.linear(h, w[b + "mlp.fc1.weight"], w[b + "mlp.fc1.bias"])),
                     w[b + "mlp.fc2.weight"], w[b + "mlp.fc2.bias"])
        x = x + h
    return F.layer_norm(x, (d,), w["encoder.vision_layernorm.weight"],
                        w["encoder.vision_layernorm.bias"], 1e-12)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_grad_enabled(False)
    save_file({k: v.contiguous() for k, v in tome_cases().items()},
              os.path.join(OUT, "tome.safetensors"))
    g = torch.Generator().manual_seed(7)
    w = make_weights(g)
    io = {}
    for name, shape in [("native", (1, 2, 3, 32, 32)), ("interp", (2, 2, 3, 48, 64))]:
        clips = torch.randn(*shape, generator=g)
        io[f"{name}.input"] = clips
        io[f"{name}.output"] = encoder_forward(w, clips)
        print(f"encoder {name}: {tuple(shape)} -> {tuple(io[name + '.output'].shape)}")
    save_file(w, os.path.join(OUT, "encoder_weights.safetensors"))
    save_file(io, os.path.join(OUT, "encoder_io.safetensors"))
    for f in sorted(os.listdir(OUT)):
        print(f, os.path.getsize(os.path.join(OUT, f)), "bytes")


if __name__ == "__main__":
    main()
