"""Reference of FrameFusion inside the LLM, for `crates/hico-llm/tests/framefusion.rs`.

Written from a reading of `thu-nics/FrameFusion` (`framefusion/main.py`, class `FrameFusion`,
and `framefusion/models/qwen2/modeling_qwen2.py`, where it is called before the attention of
layer 0 and after the attention of every layer); no code is copied. The decoder is a plain
torch Qwen2 over the `gqa` fixture (4 layers), run row-set by row-set as the official does
(the merge works in same-position order: runs of merged tokens and the token before each
run, `index_add` then divide, as `merge_tokens_and_get_mask`).

Writes `crates/hico-llm/tests/fixtures/framefusion.json`. Run with a torch venv:
    /work/venv/bin/python scripts/framefusion_ref.py
"""

import json
import math
import pathlib

import torch
from safetensors.torch import load_file

ROOT = pathlib.Path(__file__).resolve().parents[1]
FIX = ROOT / "crates/hico-llm/tests/fixtures"
W = {k: v.float() for k, v in load_file(FIX / "gqa/model.safetensors").items()}
CFG = json.loads((FIX / "gqa/config.json").read_text())
HID, NH, KV = CFG["hidden_size"], CFG["num_attention_heads"], CFG["num_key_value_heads"]
D, NL, EPS = HID // NH, CFG["num_hidden_layers"], CFG["rms_norm_eps"]
THETA = CFG["rope_parameters"]["rope_theta"]
IGNORE = -2.0


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


def qkv(i, h, pos):
    """Rotated q [NH, L, D], k and v repeated to [NH, L, D]."""
    x = rms(h, W[f"model.layers.{i}.input_layernorm.weight"])
    n = x.shape[0]
    q = rotate(proj(i, "q_proj", x).view(n, NH, D).transpose(0, 1), pos)
    k = rotate(proj(i, "k_proj", x).view(n, KV, D).transpose(0, 1), pos)
    v = proj(i, "v_proj", x).view(n, KV, D).transpose(0, 1)
    return q, k.repeat_interleave(NH // KV, 0), v.repeat_interleave(NH // KV, 0)


def attend(i, q, k, v, q_offset):
    """Causal attention of queries at rows q_offset.. over all keys; output after o_proj."""
    s = q @ k.transpose(1, 2) / math.sqrt(D)
    lq, lk = q.shape[1], k.shape[1]
    mask = torch.arange(lk)[None, :] > (torch.arange(lq)[:, None] + q_offset)
    p = torch.softmax(s.masked_fill(mask, float("-inf")), -1)
    o = (p @ v).transpose(0, 1).reshape(lq, NH * D)
    return o @ W[f"model.layers.{i}.self_attn.o_proj.weight"].T, p


def mlp_residual(i, h):
    p = f"model.layers.{i}."
    x = rms(h, W[p + "post_attention_layernorm.weight"])
    g, u = x @ W[p + "mlp.gate_proj.weight"].T, x @ W[p + "mlp.up_proj.weight"].T
    return h + (torch.nn.functional.silu(g) * u) @ W[p + "mlp.down_proj.weight"].T


def logits(h):
    return rms(h, W["model.norm.weight"]) @ W["model.embed_tokens.weight"].T


class FrameFusionRef:
    """The official state machine, on one sequence (batch 1)."""

    def __init__(self, cost, sim_lb, ratio_lb, per_frame):
        self.cost, self.sim_lb, self.ratio_lb, self.per_frame = cost, sim_lb, ratio_lb, per_frame
        self.sparsity, self.finish_merging, self.finish_pruning = [], False, False
        self.log = []

    def required(self):
        s, spent = 1.0, 0.0
        for x in self.sparsity:
            s *= 1 - x
            spent += s
        remain = NL * self.cost - spent
        left = NL - len(self.sparsity)
        if remain < 0 or left == 0:  # the official raises here; hico prunes everything
            return 1.0
        r = remain / (left * s)
        return 0.0 if r > 1 else 1 - r

    def merge(self, h, st, after_layer):
        vs, vis = st["vs"], st["vis"]
        n = len(vis)
        # Same-position order: position id, then sequence order.
        order = sorted(range(n), key=lambda j: (vis[j] % self.per_frame, j))
        sim = [IGNORE]
        for t in range(1, n):
            a, b = order[t - 1], order[t]
            if vis[a] % self.per_frame != vis[b] % self.per_frame:
                sim.append(IGNORE)
            else:
                x, y = h[vs + a], h[vs + b]
                sim.append(float((x * y).sum() / (x.norm() * y.norm())))
        upper = self.required()
        chosen = [t for t in range(n) if sim[t] >= self.sim_lb]
        ratio = len(chosen) / n
        if ratio < upper:
            self.sparsity.append(ratio)
            if ratio < self.ratio_lb:
                self.finish_merging = True
        else:
            k = int(upper * n)
            cand = sorted((t for t in range(n) if sim[t] > IGNORE), key=lambda t: (-sim[t], t))
            chosen = sorted(cand[:k])
            self.finish_merging = self.finish_pruning = True
        self.log.append({"after_layer": after_layer, "merge": len(chosen), "of": n, "upper": upper,
                         "topk": self.finish_pruning})
        if not chosen:
            return h, st
        flag = [False] * n
        for t in chosen:
            flag[t] = True
        h = h.clone()
        t = 0
        while t < n:  # each run of merged entries joins the entry before it
            if not flag[t]:
                t += 1
                continue
            e = t
            while e + 1 < n and flag[e + 1]:
                e += 1
            surv = order[t - 1]
            members = [order[u] for u in range(t, e + 1)]
            h[vs + surv] = (h[vs + surv] + sum(h[vs + m] for m in members)) / (len(members) + 1)
            t = e + 1
        keep = [j for j in range(n) if not flag[order.index(j)]]
        return self.gather(h, st, keep, after_layer)

    def prune(self, h, st, importance, after_layer):
        vs, n = st["vs"], len(st["vis"])
        r = self.required()
        k = round(n * (1 - r))
        imp = importance[vs : vs + n]
        top = sorted(sorted(range(n), key=lambda j: (-float(imp[j]), j))[:k])
        self.finish_pruning = True
        self.log.append({"after_layer": after_layer, "prune_keep": k, "of": n, "ratio": r})
        return self.gather(h, st, top, after_layer)

    def gather(self, h, st, keep, after_layer):
        vs, n = st["vs"], len(st["vis"])
        rows = list(range(vs)) + [vs + j for j in keep] + list(range(vs + n, h.shape[0]))
        st["pos"] = [st["pos"][r] for r in rows] if st["keep_pos"] else list(range(len(rows)))
        st["vis"] = [st["vis"][j] for j in keep]
        st["trace"].append({"after_layer": after_layer, "kept": list(st["vis"])})
        return h[rows], st


def run_case(name, embeds, vs, n_frames, per_frame, cost, sim_lb, ratio_lb, keep_pos, token):
    n_vis = n_frames * per_frame
    ff = FrameFusionRef(cost, sim_lb, ratio_lb, per_frame)
    st = {"vs": vs, "vis": list(range(n_vis)), "pos": list(range(embeds.shape[0])),
          "keep_pos": keep_pos, "trace": []}
    h, caches, seq_lens = embeds, [], []
    for i in range(NL):
        if i == 0:
            h, st = ff.merge(h, st, 0)
        seq_lens.append(h.shape[0])
        pos = torch.tensor(st["pos"])
        q, k, v = qkv(i, h, pos)
        caches.append((k, v, st["pos"][-1] + 1))
        o, p = attend(i, q, k, v, 0)
        importance = p[:, -1, :].mean(0) if ff.finish_merging and not ff.finish_pruning else None
        h = h + o
        if importance is not None:
            h, st = ff.prune(h, st, importance, i + 1)
        elif not ff.finish_merging:
            h, st = ff.merge(h, st, i + 1)
        h = mlp_residual(i, h)
    last = logits(h[-1:])[0]
    # One decode step with the caches each layer filled.
    x = W["model.embed_tokens.weight"][token][None]
    for i in range(NL):
        k0, v0, nxt = caches[i]
        q, k, v = qkv(i, x, torch.tensor([nxt]))
        o, _ = attend(i, q, torch.cat([k0, k], 1), torch.cat([v0, v], 1), k0.shape[1])
        x = mlp_residual(i, x + o)
    step = logits(x)[0]
    print(name, ff.log)
    return {
        "name": name, "frames": n_frames, "per_frame": per_frame, "visual_start": vs,
        "cost": cost, "similarity_lower_bound": sim_lb, "ratio_lower_bound": ratio_lb,
        "positions": "keep" if keep_pos else "renumber",
        "embeds": embeds.flatten().tolist(), "len": embeds.shape[0],
        "log": ff.log, "sparsity": ff.sparsity, "trace": st["trace"], "seq_lens": seq_lens,
        "last_logits": last.tolist(), "decode_token": token, "decode_logits": step.tolist(),
    }


def video(gen, n_frames, per_frame, noise):
    """Frames around one random frame; `noise[p]` is position p's spread (cosine of two
    frames about 1 / (1 + noise²))."""
    base = torch.randn(per_frame, HID, generator=gen)
    sd = torch.tensor(noise)[:, None]
    return torch.cat([base + sd * torch.randn(per_frame, HID, generator=gen) for _ in range(n_frames)])


def main():
    gen = torch.Generator().manual_seed(7)
    emb = W["model.embed_tokens.weight"]
    pre, post = [1, 2, 3], [4, 5, 6, 7]
    cases = []
    for name, t, n, noise, cost, sim_lb, ratio_lb, keep_pos in [
        # Many near-copies: the first step already reaches the budget (top-k, no pruning).
        ("topk_first_step", 4, 6, [0.1, 0.2, 0.3, 0.1, 0.2, 0.5], 0.3, 0.6, 0.1, True),
        # Few similar tokens: merging ends at once, pruning by layer 1's attention.
        ("prune_at_once", 4, 8, [0.3] + [3] * 7, 0.3, 0.6, 0.1, True),
        # Two merge steps, then pruning.
        # A loose budget: several merge steps, then pruning.
        ("steps_then_prune", 4, 6, [0.3, 0.9, 3, 3, 3, 3], 0.6, 0.6, 0.1, True),
        ("steps_renumber", 4, 6, [0.3, 0.9, 3, 3, 3, 3], 0.6, 0.6, 0.1, False),
        # The budget spent before pruning (the official raises; hico prunes every token).
        ("budget_spent", 4, 6, [0.3, 0.9, 3, 3, 3, 3], 0.3, 0.6, 0.1, True),
    ]:
        vis = video(gen, t, n, noise) * float(emb.std())
        embeds = torch.cat([emb[pre], vis, emb[post]])
        cases.append(run_case(name, embeds, len(pre), t, n, cost, sim_lb, ratio_lb, keep_pos, 9))
    (FIX / "framefusion.json").write_text(json.dumps({"cases": cases}))


if __name__ == "__main__":
    main()
