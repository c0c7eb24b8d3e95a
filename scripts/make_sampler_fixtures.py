#!/usr/bin/env python3
"""Make crates/hico-video/tests/fixtures/dynamic_fps.json: frame indices chosen by the
VideoChat-Flash release's own `get_frame_indices(..., sample='dynamic_fps1', ...)`.

The function is not re-typed here: it is read from a copy of the release's `mm_utils.py`
(the model repos' remote code, also vendored by other projects), given by path, and run
as is. Only the function's source is executed (with numpy and random in scope), because
importing the whole module needs decord, PyAV, cv2 and torch.

Each case is a video of `vlen` frames at `fps_num / fps_den` frames per second (the
container's average frame rate, what decord's `get_avg_fps()` returns as a float) and a
parameter set `(min_num_frames, max_num_frames, local_num_frames)`; the release's `chat()`
uses (64, 512, 8) with `num_frames = max_num_frames`.

Usage: /opt/hico-venv/bin/python scripts/make_sampler_fixtures.py PATH/TO/mm_utils.py
"""
import ast
import json
import os
import random
import sys

import numpy as np

OUT = os.path.join(
    os.path.dirname(__file__), "..", "crates", "hico-video", "tests", "fixtures", "dynamic_fps.json"
)


def load_official(path):
    """The `get_frame_indices` function object defined in the file at `path`."""
    src = open(path, encoding="utf-8").read()
    tree = ast.parse(src)
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "get_frame_indices"]
    assert len(fn) == 1, "get_frame_indices not found once in " + path
    scope = {"np": np, "random": random}
    exec(compile(ast.Module(body=fn, type_ignores=[]), path, "exec"), scope)
    return scope["get_frame_indices"]


FULL = 64  # longer index lists are stored as count, head, tail and two checksums


def record(idx):
    """The indices in full, or (when long) enough of them to pin every entry: the count, the
    first and last 16, their sum and their position-weighted sum sum((k + 1) * idx[k])."""
    idx = [int(i) for i in idx]
    if len(idx) <= FULL:
        return {"indices": idx}
    return {"count": len(idx), "head": idx[:16], "tail": idx[-16:], "sum": sum(idx),
            "weighted_sum": sum((k + 1) * i for k, i in enumerate(idx))}


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    get_frame_indices = load_official(sys.argv[1])

    rates = [(30, 1), (30000, 1001), (25, 1), (24000, 1001), (24, 1), (60, 1), (15, 1),
             (1, 1), (1, 2), (73, 10), (25, 2), (2997, 100)]
    params = [(64, 512, 8), (1, -1, 8), (16, 64, 4), (32, 256, 8), (64, 512, 6), (8, 96, 12)]
    lengths = sorted(set(list(range(1, 20)) + [23, 47, 63, 64, 65, 71, 72, 100, 127, 239, 240,
                                               241, 300, 511, 512, 513, 1000, 1799, 1800,
                                               1801, 2048, 4095, 7777, 15000, 15361]))
    cases = []
    for (mn, mx, local) in params:
        # every rate and length at the release's parameters, a subset at the others
        release = (mn, mx, local) == (64, 512, 8)
        for (num, den) in rates if release else rates[1::3]:
            for vlen in lengths if release else lengths[::2]:
                fps = num / den
                idx = get_frame_indices(mx, vlen, sample="dynamic_fps1", fix_start=None,
                                        input_fps=fps, min_num_frames=mn, max_num_frames=mx,
                                        local_num_frames=local)
                cases.append({"vlen": vlen, "fps_num": num, "fps_den": den, "min_frames": mn,
                              "max_frames": mx, "multiple": local,
                              **record(idx)})
    # Long videos at the release's parameters (the cap and float edges of 1 fps).
    for (num, den) in rates:
        for vlen in [36000, 90001, 899999]:
            idx = get_frame_indices(512, vlen, sample="dynamic_fps1", input_fps=num / den,
                                    min_num_frames=64, max_num_frames=512, local_num_frames=8)
            cases.append({"vlen": vlen, "fps_num": num, "fps_den": den, "min_frames": 64,
                          "max_frames": 512, "multiple": 8, **record(idx)})
    with open(OUT, "w") as f:
        json.dump({"source": "get_frame_indices(sample='dynamic_fps1') of the release's mm_utils.py",
                   "cases": cases}, f, separators=(",", ":"))
    print(f"{len(cases)} cases, {os.path.getsize(OUT)} bytes -> {OUT}")


if __name__ == "__main__":
    main()
