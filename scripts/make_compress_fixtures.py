#!/usr/bin/env python3
"""Write the parity fixtures of hico-compress from the Python references.

Each module in scripts/compress_ref/ (one per method, written from the method's official code;
docs/compression.md names the file and function) defines

    CASES = [dict(name=..., params={...}, t=..., n=..., c=..., [q=...], [attention=True],
                  [layout="video"|"noise"|"dup"], [is_grid=False], [seed=...]), ...]
    def reference(tokens, query, attention, **params) -> (out_tokens [K, C] f32, source [K] i64)

where `tokens` is float32 [T, N, C], `query` float32 [Q, C] or None, `attention` float32 [T, N]
or None, and `source[j]` is the smallest flat input index (t * N + n) that output token j stands
for. This script draws the inputs (common.make_inputs), runs the reference and writes
crates/hico-compress/tests/fixtures/<module>__<case>.safetensors with the method's [compressor]
table as metadata `config`. tests/parity.rs reads them all.

Needs numpy and safetensors (a venv; never in CI):
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install numpy safetensors
    /tmp/venv/bin/python scripts/make_compress_fixtures.py [module ...]
"""
import importlib
import pathlib
import pkgutil
import sys

import numpy as np
from safetensors.numpy import save_file

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import compress_ref  # noqa: E402
from compress_ref.common import make_inputs, toml_table  # noqa: E402

OUT = HERE.parent / "crates" / "hico-compress" / "tests" / "fixtures"


def main(only):
    OUT.mkdir(parents=True, exist_ok=True)
    names = [m.name for m in pkgutil.iter_modules(compress_ref.__path__) if m.name != "common"]
    for name in sorted(names):
        if only and name not in only:
            continue
        mod = importlib.import_module(f"compress_ref.{name}")
        for old in OUT.glob(f"{name}__*.safetensors"):
            old.unlink()
        for i, case in enumerate(mod.CASES):
            tokens, query, attention = make_inputs(case, seed=case.get("seed", 1000 + i))
            out, source = mod.reference(tokens, query, attention, **case["params"])
            out = np.ascontiguousarray(out, dtype=np.float32)
            source = np.ascontiguousarray(source, dtype=np.int64)
            assert out.ndim == 2 and out.shape[1] == tokens.shape[2], out.shape
            assert source.shape == (out.shape[0],), source.shape
            tensors = {"tokens": tokens, "out_tokens": out, "out_source": source}
            if query is not None:
                tensors["query"] = query
            if attention is not None:
                tensors["attention"] = attention
            meta = {"config": toml_table(mod.KIND, case["params"])}
            if not case.get("is_grid", True):
                meta["is_grid"] = "false"
            path = OUT / f"{name}__{case['name']}.safetensors"
            save_file(tensors, str(path), metadata=meta)
            print(f"{path.name}: {tokens.shape} -> {out.shape[0]} tokens")


if __name__ == "__main__":
    main(sys.argv[1:])
