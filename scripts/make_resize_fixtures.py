#!/usr/bin/env python3
"""Make crates/hico-video/tests/fixtures/pil_bicubic_pillow<MAJOR>.json: what Pillow's
`Image.resize(size, Image.BICUBIC)` returns for generated 8-bit images, to test hico's
re-implementation (crates/hico-video/src/resize.rs) for bit-exact equality.

Run it under Pillow 11 (the release's era: the horizontal pass always comes first) and
under Pillow 13 (which runs the vertical pass first when the height shrinks by more than
twice what the width does); the committed fixtures come from Pillow 11.3.0 and 13.0.0.

Inputs are not stored: both sides generate them from (kind, width, height, channels, seed):
* "noise": byte k of the row-major HWC buffer is the top byte of splitmix64's output for
  the counter seed + (k + 1) * 0x9E3779B97F4A7C15 (mod 2^64), i.e.
  z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31.
* "smooth": pixel (x, y), channel c is
  (x * 511 // max(w - 1, 1) + y * 255 // max(h - 1, 1) + 85 * c) % 256 (ramps with seams).
Each case stores the output's SHA-256 and its first 48 bytes; small outputs in full (hex).

Also writes normalise.json (when transformers is importable): for every byte value and channel, the float32 bits of what
transformers' `rescale(1/255)` + `normalize(ImageNet mean, std)` (the release's
`UMTImageProcessor` after the resize) make of it.

Usage: /opt/hico-venv/bin/python scripts/make_resize_fixtures.py   (needs Pillow, numpy)
"""
import hashlib
import json
import os

import numpy as np
import PIL
from PIL import Image

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "crates", "hico-video", "tests", "fixtures")
OUT = os.path.join(FIXTURES, f"pil_bicubic_pillow{PIL.__version__.split('.')[0]}.json")
GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def noise(n, seed):
    with np.errstate(over="ignore"):
        z = np.uint64(seed) + (np.arange(1, n + 1, dtype=np.uint64) * GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(56)).astype(np.uint8)


def image(kind, w, h, ch, seed):
    if kind == "noise":
        return noise(w * h * ch, seed).reshape(h, w, ch)
    x = np.arange(w).reshape(1, w, 1)
    y = np.arange(h).reshape(h, 1, 1)
    c = np.arange(ch).reshape(1, 1, ch)
    return ((x * 511 // max(w - 1, 1) + y * 255 // max(h - 1, 1) + 85 * c) % 256).astype(np.uint8)


CASES = [
    # (kind, w, h, channels, out_w, out_h)
    ("smooth", 640, 360, 3, 224, 224), ("noise", 640, 360, 3, 224, 224),
    ("smooth", 640, 360, 3, 448, 448), ("noise", 1280, 720, 3, 448, 448),
    ("smooth", 1920, 1080, 3, 224, 224), ("noise", 1920, 1080, 3, 448, 448),
    ("noise", 176, 144, 3, 224, 224), ("smooth", 320, 240, 3, 448, 448),
    ("noise", 37, 23, 3, 16, 16), ("noise", 5, 7, 3, 12, 12), ("noise", 1, 1, 3, 4, 4),
    ("noise", 1, 9, 3, 3, 3), ("smooth", 3, 1, 3, 224, 224), ("noise", 101, 57, 3, 64, 64),
    ("noise", 63, 65, 3, 64, 64), ("noise", 224, 224, 3, 224, 224),
    ("noise", 224, 100, 3, 224, 224), ("noise", 100, 224, 3, 224, 224),
    ("noise", 64, 48, 3, 32, 40), ("smooth", 30, 30, 3, 45, 17), ("noise", 999, 3, 3, 7, 7),
    ("noise", 2, 2, 3, 448, 448), ("noise", 1000, 1000, 1, 3, 3), ("noise", 17, 31, 1, 224, 224),
    # portrait frames: the height shrinks more than twice as much as the width
    ("noise", 90, 160, 3, 64, 64), ("smooth", 720, 1280, 3, 448, 448),
    ("noise", 100, 300, 3, 80, 100), ("noise", 360, 640, 1, 224, 224),
]


def main():
    cases = []
    for i, (kind, w, h, ch, ow, oh) in enumerate(CASES):
        seed = 1000 + i
        arr = image(kind, w, h, ch, seed)
        im = Image.fromarray(arr[:, :, 0] if ch == 1 else arr)
        out = np.asarray(im.resize((ow, oh), Image.BICUBIC)).tobytes()
        assert len(out) == ow * oh * ch
        case = {"kind": kind, "width": w, "height": h, "channels": ch, "seed": seed,
                "out_width": ow, "out_height": oh,
                "sha256": hashlib.sha256(out).hexdigest(), "head": out[:48].hex()}
        if len(out) <= 1024:
            case["bytes"] = out.hex()
        cases.append(case)
    with open(OUT, "w") as f:
        json.dump({"pillow": PIL.__version__, "cases": cases}, f, indent=0)
    print(f"{len(cases)} cases (Pillow {PIL.__version__}), {os.path.getsize(OUT)} bytes -> {OUT}")

    try:
        from transformers.image_transforms import normalize, rescale
        from transformers.image_utils import ChannelDimension
    except ImportError:
        print("transformers not importable: normalise.json not written")
        return
    # One 3x256 CHW "image" holding every byte value in every channel.
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    chw = np.tile(np.arange(256, dtype=np.uint8), (3, 1)).reshape(3, 1, 256)
    x = rescale(chw, 1 / 255, data_format=ChannelDimension.FIRST,
                input_data_format=ChannelDimension.FIRST)
    x = normalize(x, mean, std, data_format=ChannelDimension.FIRST,
                  input_data_format=ChannelDimension.FIRST)
    assert x.dtype == np.float32, x.dtype
    norm_out = os.path.join(FIXTURES, "normalise.json")
    with open(norm_out, "w") as f:
        json.dump({"mean": mean, "std": std,
                   "bits": [[int(b) for b in x[c, 0].view(np.uint32)] for c in range(3)]}, f)
    print(f"normalise table -> {norm_out}")


if __name__ == "__main__":
    main()
