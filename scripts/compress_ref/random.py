"""`random`: hico's seeded baseline (no official code: the rule is hico's, docs/compression.md).
K = int(T*N*retention_ratio) tokens drawn by a partial Fisher-Yates shuffle driven by
SplitMix64(seed), kept in flat-index order."""
from .common import keep

KIND = "random"
M64 = (1 << 64) - 1


def splitmix64(seed):
    state = seed & M64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def reference(tokens, query, attention, retention_ratio=0.25, seed=0):
    t, n, _ = tokens.shape
    total = t * n
    k = int(total * retention_ratio)
    idx = list(range(total))
    rng = splitmix64(seed)
    for i in range(k):
        j = i + next(rng) % (total - i)
        idx[i], idx[j] = idx[j], idx[i]
    return keep(tokens, sorted(idx[:k]))


CASES = [
    dict(name="quarter", params=dict(retention_ratio=0.25, seed=0), t=4, n=16, c=8),
    dict(name="odd", params=dict(retention_ratio=0.0625, seed=12345), t=8, n=49, c=16),
]
