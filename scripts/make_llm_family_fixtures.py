#!/usr/bin/env python3
"""Reference fixtures for hico-llm's LLaMA and Qwen3 families and its sampling processors,
made with PyPI torch + transformers (run with /opt/hico-venv). Companion of make_llm_fixtures.py
(which makes the Qwen2 fixtures; this script leaves those untouched).

Writes under crates/hico-llm/tests/fixtures/:
  llama3/, llama3.json          tiny random LlamaForCausalLM, llama3 rope scaling, 2 KV heads,
                                untied head, bf16 on disk; config.json in the form Meta's hub
                                checkpoints use (top-level `rope_theta` + `rope_scaling`)
  llama_tied/, llama_tied.json  tiny random plain LLaMA (no rope scaling, tied head, f32 on disk),
                                config.json as transformers 5 writes it (`rope_parameters`)
  qwen3/, qwen3.json            tiny random Qwen3ForCausalLM (q_norm/k_norm, head_dim 16 with
                                hidden 32 / 4 heads), tied head, bf16 on disk, transformers 5 form
  logits_processors.json        transformers' temperature / top-k / top-p / repetition-penalty
                                processors on fixed score vectors, alone and composed as generate
                                composes them

<name>.json: {"prompts": [[id]], "logits": [[[f32; vocab]; len]], "greedy": [[id; 10]], ...}
as make_llm_fixtures.py, plus "min_greedy_margin" (smallest top1 - top2 logit gap met while
generating) and, for llama3, "rope_parameters_tf5" (the dict transformers 5 itself would write).
Every parameter is re-randomised after init (weights N(0, 0.3), norm weights 1 + 0.1 N(0, 1)) and
rounded to bf16-representable values; the script checks that cached generation equals full
forwards and that every saved directory reloads with AutoModelForCausalLM to the recorded logits.

Usage: /opt/hico-venv/bin/python scripts/make_llm_family_fixtures.py [--only llama3,llama_tied,qwen3,processors]
"""
import argparse
import copy
import json
import pathlib
import sys

import torch
import transformers
from transformers import (AutoModelForCausalLM, GenerationConfig, LlamaConfig, LlamaForCausalLM,
                          Qwen3Config, Qwen3ForCausalLM)
from transformers.generation.logits_process import (RepetitionPenaltyLogitsProcessor, TemperatureLogitsWarper,
                                                    TopKLogitsWarper, TopPLogitsWarper)

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_llm_fixtures import OUT, PROMPTS  # noqa: E402

# The Qwen2 prompts plus a longer one, so the llama3-scaled low frequencies turn far enough to matter.
LONG = [(i * 37 + 11) % 128 for i in range(24)]
FAMILY_PROMPTS = PROMPTS + [LONG]
NEW_TOKENS = 10

LLAMA3_ROPE = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 256}
SHAPE = dict(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=4, num_attention_heads=4,
             max_position_embeddings=4096, rms_norm_eps=1e-6, bos_token_id=None, eos_token_id=None,
             pad_token_id=None)


def build(name):
    """(model class, config, dtype on disk, seed) of fixture `name`."""
    if name == "llama3":
        cfg = LlamaConfig(**SHAPE, num_key_value_heads=2, attention_bias=False, mlp_bias=False,
                          tie_word_embeddings=False, rope_parameters={"rope_theta": 500000.0, **LLAMA3_ROPE})
        return LlamaForCausalLM, cfg, torch.bfloat16, 10
    if name == "llama_tied":
        cfg = LlamaConfig(**SHAPE, num_key_value_heads=2, attention_bias=False, mlp_bias=False,
                          tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
        return LlamaForCausalLM, cfg, torch.float32, 11
    if name == "qwen3":
        cfg = Qwen3Config(**SHAPE, num_key_value_heads=2, head_dim=16, attention_bias=False,
                          tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 1e6})
        return Qwen3ForCausalLM, cfg, torch.bfloat16, 12
    raise ValueError(name)


def make_model(name):
    cls, cfg, dtype, seed = build(name)
    torch.manual_seed(seed)
    cfg._attn_implementation = "eager"
    model = cls(cfg).float().eval()
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.normal_(1.0, 0.1)
            elif n.endswith(".bias"):
                p.normal_(0.0, 0.1)
            else:
                p.normal_(0.0, 0.3)
            p.copy_(p.bfloat16().float())  # exactly representable in bf16 (for the bf16 dirs)
    d = OUT / name
    # Save a bf16 copy: casting `model` itself would also round its rotary buffers.
    (copy.deepcopy(model).to(dtype) if dtype != torch.float32 else model).save_pretrained(d)
    return model, d


def hub_form(d):
    """Rewrite config.json's rope fields as Meta's hub checkpoints spell them; return tf5's dict."""
    path = d / "config.json"
    c = json.loads(path.read_text())
    rp = c.pop("rope_parameters")
    scaling = {k: v for k, v in rp.items() if k != "rope_theta"}
    c["rope_theta"], c["rope_scaling"] = rp["rope_theta"], scaling
    path.write_text(json.dumps(c, indent=2, sort_keys=True) + "\n")
    return rp


def greedy_checked(model, prompt):
    """Greedy continuation via cached generate, checked against full forwards step by step."""
    ids = torch.tensor([prompt])
    # An explicit mask: otherwise generate masks every id equal to pad_token_id (LONG holds a 0).
    out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS, do_sample=False, eos_token_id=None, pad_token_id=0,
                         return_dict_in_generate=True, output_logits=True)
    seq = out.sequences[0].tolist()
    worst, margin = 0.0, float("inf")
    for s, step_logits in enumerate(out.logits):
        full = model(torch.tensor([seq[:len(prompt) + s]])).logits[0, -1]
        worst = max(worst, (full - step_logits[0]).abs().max().item())
        top2 = full.topk(2).values
        margin = min(margin, (top2[0] - top2[1]).item())
        assert full.argmax().item() == seq[len(prompt) + s], "cached greedy differs from full forward"
    assert worst < 1e-4, f"cached logits differ from full forward by {worst}"
    return seq[len(prompt):], worst, margin


def family(name, report):
    model, d = make_model(name)
    rec = {"prompts": FAMILY_PROMPTS, "logits": [], "greedy": []}
    worst, margin = 0.0, float("inf")
    with torch.no_grad():
        for p in FAMILY_PROMPTS:
            rec["logits"].append(model(torch.tensor([p])).logits[0].tolist())
            g, w, m = greedy_checked(model, p)
            rec["greedy"].append(g)
            worst, margin = max(worst, w), min(margin, m)
    rec["min_greedy_margin"] = margin
    if name == "llama3":
        rec["rope_parameters_tf5"] = hub_form(d)
        # The scaling must matter: the same weights with plain rope give other logits.
        plain = copy.deepcopy(model.config)
        plain.rope_parameters = {"rope_type": "default", "rope_theta": 500000.0}
        pm = LlamaForCausalLM(plain).eval()
        pm.load_state_dict(model.state_dict())
        with torch.no_grad():
            diff = (pm(torch.tensor([LONG])).logits[0] - torch.tensor(rec["logits"][2])).abs().max().item()
        assert diff > 1e-2, f"llama3 scaling changes logits by only {diff}"
        report[name + "_plain_rope_logit_diff"] = diff
        report[name + "_inv_freq"] = model.model.rotary_emb.inv_freq.tolist()
        report[name + "_inv_freq_plain"] = pm.model.rotary_emb.inv_freq.tolist()
    if name == "qwen3":
        # The q/k norm weights must matter: setting them to 1 changes the logits.
        ones = copy.deepcopy(model)
        with torch.no_grad():
            for n, p in ones.named_parameters():
                if "q_norm" in n or "k_norm" in n:
                    p.fill_(1.0)
            diff = (ones(torch.tensor([LONG])).logits[0] - torch.tensor(rec["logits"][2])).abs().max().item()
        assert diff > 1e-2, f"qwen3 q/k norm weights change logits by only {diff}"
        report[name + "_unit_qk_norm_logit_diff"] = diff
    (OUT / f"{name}.json").write_text(json.dumps(rec))

    # The saved directory reloads in transformers to the recorded logits.
    back = AutoModelForCausalLM.from_pretrained(d, dtype=torch.float32).eval()
    assert type(back) is type(model), type(back)
    with torch.no_grad():
        re = max((back(torch.tensor([p])).logits[0] - torch.tensor(l)).abs().max().item()
                 for p, l in zip(FAMILY_PROMPTS, rec["logits"]))
    assert re < 1e-4, f"{name}: reloaded logits differ by {re}"
    report[name] = {"cached_vs_full": worst, "min_greedy_margin": margin, "reload_max_diff": re,
                    "config_keys": sorted(json.loads((d / "config.json").read_text()).keys()),
                    "files": {f.name: f.stat().st_size for f in sorted(d.iterdir())},
                    "json_bytes": (OUT / f"{name}.json").stat().st_size}


def enc(t):
    """f32 list with -inf written as the string "-inf" (JSON has no infinities)."""
    return ["-inf" if v == float("-inf") else v for v in t.tolist()]


def processors(report):
    g = torch.Generator().manual_seed(5)
    v = 50
    a = torch.randn(v, generator=g) * 1.2
    a[[3, 17, 29]] = a.max() + 0.1           # a three-way tie at the top
    a[[8, 40]] = -1e9                          # very negative
    b = torch.randn(v, generator=g)
    b[12] = -40.0
    order = b.argsort(descending=True)
    b[order[4:6]] = b[order[3]].item()         # ties at the 4th..6th place: top-k 5 keeps all six
    c = torch.randn(v, generator=g) * 0.3      # flat
    c[0], c[49] = float("-inf"), -3.0e4        # an already-masked token and a huge negative
    vectors = [a, b, c]
    prev = [30, 12, 12, 40, 7, 49, 0, 25]     # 12 repeated; 12 / 40 / 49 / 0 have negative logits in some vector
    cases = []
    for x in vectors:
        x = x.float()
        s = x[None]
        ids = torch.tensor([prev])
        out = {"logits": enc(x), "temperature": {}, "top_k": {}, "top_p": {}, "repetition_penalty": {}}
        for t in (0.5, 1.3):
            out["temperature"][str(t)] = enc(TemperatureLogitsWarper(t)(ids, s.clone())[0])
        for k in (1, 5):
            out["top_k"][str(k)] = enc(TopKLogitsWarper(k)(ids, s.clone())[0])
        for p in (0.3, 0.9):
            r = TopPLogitsWarper(p)(ids, s.clone())[0]
            # Tie order inside torch.sort must not decide the result: the reversed order agrees.
            flip = TopPLogitsWarper(p)(ids, s.clone().flip(-1))[0].flip(-1)
            assert torch.equal(r, flip), f"top-p {p} depends on tie order"
            out["top_p"][str(p)] = enc(r)
        for pen in (1.1, 1.5):
            out["repetition_penalty"][str(pen)] = enc(RepetitionPenaltyLogitsProcessor(pen)(ids, s.clone())[0])
        cases.append(out)

    # The order generate() applies them, from transformers' own list builder.
    tiny = LlamaForCausalLM(LlamaConfig(**{**SHAPE, "num_hidden_layers": 1})).eval()
    composed = []
    for gc in (dict(temperature=0.7, top_k=5, top_p=0.9, repetition_penalty=1.3),
               dict(temperature=1.3, top_k=10, top_p=0.3, repetition_penalty=1.1)):
        config = GenerationConfig(do_sample=True, **gc)
        plist = tiny._get_logits_processor(config, input_ids_seq_length=len(prev), device="cpu", model_kwargs={})
        order = [type(p).__name__ for p in plist]
        outs = []
        for x in vectors:
            y = plist(torch.tensor([prev]), x.float()[None].clone())[0]
            flip = plist(torch.tensor([[v - 1 - i for i in prev]]), x.float().flip(-1)[None].clone())[0].flip(-1)
            assert torch.equal(y, flip), f"composed {gc} depends on tie order"
            outs.append({"scores": enc(y), "probs": torch.softmax(y, -1).tolist()})
        composed.append({"config": gc, "order": order, "outputs": outs})
    rec = {"note": "f32 lists; -inf written as the string \"-inf\"; keys of temperature/top_k/top_p/"
                   "repetition_penalty are the parameter as a string; min_tokens_to_keep = 1",
           "previous_ids": prev, "cases": cases, "composed": composed}
    (OUT / "logits_processors.json").write_text(json.dumps(rec))
    report["processors"] = {"order": [c["order"] for c in composed],
                            "json_bytes": (OUT / "logits_processors.json").stat().st_size}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="llama3,llama_tied,qwen3,processors")
    only = ap.parse_args().only.split(",")
    report = {"torch": torch.__version__, "transformers": transformers.__version__}
    for name in ("llama3", "llama_tied", "qwen3"):
        if name in only:
            family(name, report)
    if "processors" in only:
        processors(report)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
