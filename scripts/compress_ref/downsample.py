"""`downsample`: per-frame average pooling with the cells of torch's adaptive_avg_pool2d
(cell i of o along a side s spans floor(i*s/o) .. ceil((i+1)*s/o)); output frame, row-major cell."""
import math

from .common import means

KIND = "downsample"


def reference(tokens, query, attention, tokens_per_frame=16):
    t, n, _ = tokens.shape
    s = math.isqrt(n)
    o = math.isqrt(tokens_per_frame)
    cells = [((i * s) // o, -((-(i + 1) * s) // o)) for i in range(o)]
    groups = []
    for f in range(t):
        for r0, r1 in cells:
            for c0, c1 in cells:
                groups.append([f * n + r * s + c for r in range(r0, r1) for c in range(c0, c1)])
    return means(tokens, groups)


CASES = [
    dict(name="4x4_to_2x2", params=dict(tokens_per_frame=4), t=4, n=16, c=8),
    dict(name="7x7_to_3x3", params=dict(tokens_per_frame=9), t=3, n=49, c=16),
    dict(name="14x14_to_4x4", params=dict(tokens_per_frame=16), t=2, n=196, c=8),
]
