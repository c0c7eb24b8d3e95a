"""Reference of DyCoke's decode-time KV-cache pruning, for `crates/hico-llm/tests/dycoke.rs`.

Written from a reading of `KD-TAO/DyCoke` (`llava/model/language_model/modeling_qwen2.py`:
`PrunableDynamicCache.update` / `update_cache` / `dycoke_pruning`, driven from
`Qwen2Model.forward`, with the attention weights of `Qwen2SdpaAttention` for one query row);
no code is copied. The decoder is a plain torch Qwen2 over the `gqa` fixture (4 layers), with
a cache that, like the official one, keeps every entry and hands a layer the rows of an index
list when one is set:
- at every forward, the layers before `dycoke_l` reset the index list (whole cache);
- at layer `dycoke_l` of a one-token forward, the previous layer's softmax attention of the
  token to all keys, averaged over heads, is cut to the visual block; its cosine similarity to
  the previous step's (0 at the first) decides: below the threshold, the list becomes the text
  rows, the top `int(N * (1 - dycoke_p))` visual rows and the rows after the block;
  otherwise it stays unset (the whole cache);
- the layers from `dycoke_l` on attend to the listed rows.
The official keeps `topk(sorted=False)` order; here the kept rows are in cache order (the
attention sums over them either way).

Writes `crates/hico-llm/tests/fixtures/dycoke.json`. Run with a torch venv:
    /work/venv/bin/python scripts/dycoke_ref.py
"""

import json
import math
import pathlib

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "crates/hico-llm/tests/fixtures"
W = {k: v.float() for k, v in load_file(FIX / "gqa/model.safetensors").items()}
CFG = json.loads((FIX / "gqa/config.json").read_text())
HID, NH, KV = CFG["hidden_size"], CFG["num_attention_heads"], CFG["num_key_value_heads"]
D, NL, EPS = HID // NH, CFG["num_hidden_layers"], CFG["rms_norm_eps"]
THETA = CFG["rope_parameters"]["rope_theta"]


def rms(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * w


def rotate(x, pos):
    inv = 1.0 / (THETA ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    f = pos[:, None].double() * inv[None]
    emb = torch.cat([f, f], -1)
    cos, sin = emb.cos().float(), emb.sin().float()
    x1, x2 = x[..., : D // 2], x[..., D // 2 :]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def proj(i, name, x):
    p = f"model.layers.{i}.self_attn.{name}"
    y = x @ W[p + ".weight"].T
    return y + W[p + ".bias"] if p + ".bias" in W else y


def mlp_residual(i, h):
    p = f"model.layers.{i}."
    x = rms(h, W[p + "post_attention_layernorm.weight"])
    g, u = x @ W[p + "mlp.gate_proj.weight"].T, x @ W[p + "mlp.up_proj.weight"].T
    return h + (F.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T


def logits(h):
    return rms(h, W["model.norm.weight"]) @ W["model.embed_tokens.weight"].T


class Cache:
    """Every layer's rotated keys and values of every token (KV heads), and the row list
    the pruned layers read (the official `kv_cache`)."""

    def __init__(self):
        self.k, self.v, self.rows = [], [], None

    def update(self, i, k, v):
        if len(self.k) <= i:
            self.k.append(k)
            self.v.append(v)
        else:
            self.k[i] = torch.cat([self.k[i], k], 1)
            self.v[i] = torch.cat([self.v[i], v], 1)
        if self.rows is None:
            return self.k[i], self.v[i]
        idx = torch.tensor(self.rows)
        return self.k[i][:, idx], self.v[i][:, idx]


class Dycoke:
    """The official pruning state (`DycokeConfigs`), one per generation."""

    def __init__(self, l, p, threshold, start, length):
        self.l, self.p, self.threshold, self.start, self.length = l, p, threshold, start, length
        self.previous, self.used, self.similarity = None, [], []

    def prune(self, cache, weights, seq_len):
        a = weights.mean(0)[self.start : self.start + self.length]
        s = float(F.cosine_similarity(a, self.previous, dim=0)) if self.previous is not None else 0.0
        self.previous = a
        self.similarity.append(s)
        if s < self.threshold:
            keep = int(self.length * (1 - self.p))
            top = torch.topk(a, keep).indices.sort().values + self.start
            cache.rows = (
                list(range(self.start)) + top.tolist() + list(range(self.start + self.length, seq_len))
            )
            self.used.append(keep)
        else:
            self.used.append(self.length)


def forward(h, pos, cache, dy):
    """All layers over rows `h` at positions `pos` (a prefill, or one decode token)."""
    n = h.shape[0]
    seq_len = int(pos[-1]) + 1
    weights = None
    for i in range(NL):
        if dy is not None and n == 1:
            if i < dy.l:
                cache.rows = None
            elif i == dy.l and cache.rows is None:
                dy.prune(cache, weights, seq_len)
        x = rms(h, W[f"model.layers.{i}.input_layernorm.weight"])
        q = rotate(proj(i, "q_proj", x).view(n, NH, D).transpose(0, 1), pos)
        k = rotate(proj(i, "k_proj", x).view(n, KV, D).transpose(0, 1), pos)
        v = proj(i, "v_proj", x).view(n, KV, D).transpose(0, 1)
        k, v = cache.update(i, k, v)
        k, v = k.repeat_interleave(NH // KV, 0), v.repeat_interleave(NH // KV, 0)
        s = q @ k.transpose(1, 2) / math.sqrt(D)
        if n > 1:
            s = s.masked_fill(torch.arange(n)[None, :] > torch.arange(n)[:, None], float("-inf"))
        p = torch.softmax(s, -1)
        weights = p[:, -1]  # [NH, keys]: the last query row's attention
        o = (p @ v).transpose(0, 1).reshape(n, NH * D)
        h = mlp_residual(i, h + o @ W[f"model.layers.{i}.self_attn.o_proj.weight"].T)
    return logits(h)


def run_case(name, embeds, start, length, l, p, threshold, new_tokens):
    cache = Cache()
    dy = Dycoke(l, p, threshold, start, length)
    n = embeds.shape[0]
    out = forward(embeds, torch.arange(n), cache, None)
    tokens, step_logits = [int(out[-1].argmax())], []
    while len(tokens) < new_tokens:
        pos = torch.tensor([n + len(tokens) - 1])
        out = forward(W["model.embed_tokens.weight"][tokens[-1]][None], pos, cache, dy)
        step_logits.append(out[-1].tolist())
        tokens.append(int(out[-1].argmax()))
    print(name, "used", dy.used, "similarity", [round(s, 4) for s in dy.similarity], "tokens", tokens)
    return {
        "name": name, "embeds": embeds.flatten().tolist(), "len": n,
        "visual_start": start, "visual_len": length,
        "dycoke_l": l, "dycoke_p": p, "similarity_threshold": threshold,
        "tokens": tokens, "used": dy.used, "similarity": dy.similarity,
        "step_logits": step_logits,
    }


def main():
    gen = torch.Generator().manual_seed(11)
    emb = W["model.embed_tokens.weight"]
    pre, post = [1, 2, 3], [4, 5, 6, 7]
    cases = []
    for name, n_vis, l, p, threshold, scale in [
        # The official defaults.
        ("defaults", 40, 3, 0.8, 0.9, 1.0),
        # Scored at layer 1, three layers pruned, half the visual entries kept; one step
        # attends to all.
        ("layer1_half", 40, 1, 0.5, 0.5, 1.0),
        # A threshold between the steps' similarities: some steps prune, some attend to all.
        ("mixed_steps", 40, 2, 0.7, 0.35, 4.0),
        # Loud visual tokens: attention concentrates on the visual block.
        ("loud_visual", 60, 3, 0.8, 0.9, 6.0),
    ]:
        vis = torch.randn(n_vis, HID, generator=gen) * float(emb.std()) * scale
        embeds = torch.cat([emb[pre], vis, emb[post]])
        cases.append(run_case(name, embeds, len(pre), n_vis, l, p, threshold, 9))
    (FIX / "dycoke.json").write_text(json.dumps({"cases": cases}))


if __name__ == "__main__":
    main()
