#!/usr/bin/env python3
"""Check that the LLM exported by `hico train` (<out>/final/llm_hf) loads in transformers.

Usage: /opt/hico-venv/bin/python scripts/train_check_hf_export.py runs/train/tiny_synth/final/llm_hf

Loads the folder with `Qwen2ForCausalLM.from_pretrained`, fails on any missing or unexpected
key, compares every tensor with the safetensors file bit for bit, and runs a forward pass
on a few token ids (logits must be finite).
"""
import sys

import torch
from safetensors.torch import load_file
from transformers import Qwen2ForCausalLM


def main(path: str) -> None:
    model, info = Qwen2ForCausalLM.from_pretrained(path, output_loading_info=True)
    missing = set(info.get("missing_keys", []))
    if model.config.tie_word_embeddings:
        missing.discard("lm_head.weight")  # tied: absent from the file by design
    problems = {
        "missing": sorted(missing),
        "unexpected": info.get("unexpected_keys", []),
        "mismatched": info.get("mismatched_keys", []),
    }
    if any(problems.values()):
        sys.exit(f"{path}: loading problems: {problems}")
    state = model.state_dict()
    for name, t in load_file(f"{path}/model.safetensors").items():
        if not torch.equal(state[name], t):
            sys.exit(f"{path}: {name} differs after loading")
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        logits = model(ids).logits
    if not torch.isfinite(logits).all():
        sys.exit(f"{path}: non-finite logits")
    print(f"ok: {path} loads in transformers ({sum(p.numel() for p in model.parameters())} parameters), logits {tuple(logits.shape)}")


if __name__ == "__main__":
    main(sys.argv[1])
