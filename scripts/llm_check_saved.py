#!/usr/bin/env python3
"""Check that a directory written by hico's `Qwen2::save_hf` loads in transformers and gives
the logits recorded for the `untied` fixture (the test `save_then_reload_is_lossless` writes
one when HICO_LLM_SAVE_TO is set).

Usage: HICO_LLM_SAVE_TO=/tmp/saved cargo test -p hico-llm --test parity save_then
       /opt/hico-venv/bin/python scripts/llm_check_saved.py /tmp/saved
"""
import json
import pathlib
import sys

import torch
from transformers import Qwen2ForCausalLM

fixtures = pathlib.Path(__file__).resolve().parent.parent / "crates/hico-llm/tests/fixtures"
model = Qwen2ForCausalLM.from_pretrained(sys.argv[1]).float().eval()
rec = json.loads((fixtures / "untied.json").read_text())
with torch.no_grad():
    for prompt, want in zip(rec["prompts"], rec["logits"]):
        got = model(torch.tensor([prompt])).logits[0]
        diff = (got - torch.tensor(want)).abs().max().item()
        print(f"prompt of {len(prompt)} tokens: max |diff| = {diff:.2e}")
        assert diff < 1e-4
print("ok: transformers loads the hico-saved checkpoint")
