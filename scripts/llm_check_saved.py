#!/usr/bin/env python3
"""Check that directories written by hico's `CausalLm::save_hf` load in transformers and give
the logits recorded for their fixtures (the test `save_then_reload_is_lossless` writes one
sub-folder per fixture model when HICO_LLM_SAVE_TO is set).

Usage: HICO_LLM_SAVE_TO=/tmp/saved cargo test -p hico-llm --test parity save_then
       /opt/hico-venv/bin/python scripts/llm_check_saved.py /tmp/saved
"""
import json
import pathlib
import sys

import torch
from transformers import AutoModelForCausalLM

fixtures = pathlib.Path(__file__).resolve().parent.parent / "crates/hico-llm/tests/fixtures"
root = pathlib.Path(sys.argv[1])
for sub in sorted(p for p in root.iterdir() if p.is_dir()):
    model = AutoModelForCausalLM.from_pretrained(sub, dtype=torch.float32).eval()
    rec = json.loads((fixtures / f"{sub.name}.json").read_text())
    with torch.no_grad():
        for prompt, want in zip(rec["prompts"], rec["logits"]):
            got = model(torch.tensor([prompt])).logits[0]
            diff = (got - torch.tensor(want)).abs().max().item()
            print(f"{sub.name} ({type(model).__name__}), prompt of {len(prompt)} tokens: "
                  f"max |diff| = {diff:.2e}")
            assert diff < 1e-4
print("ok: transformers loads every hico-saved checkpoint")
