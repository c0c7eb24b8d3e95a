"""Inputs and helpers shared by the references.

Ranking rule of every reference (and of hico): higher score first, ties to the lower index, i.e.
a stable sort of the negated scores. Decisions are computed in float64.
"""
import numpy as np


def make_inputs(case, seed):
    """Draw (tokens [T, N, C] f32, query [Q, C] f32 or None, attention [T, N] f32 or None).

    layout "video" (default): a static background (most tokens repeat the previous frame's with
    1 % jitter) with a moving part, plus a near-duplicate consecutive frame pair; "noise":
    independent Gaussian tokens; "dup": every frame a near-duplicate (0.1 % jitter) of frame 0.
    """
    rng = np.random.default_rng(seed)
    t, n, c = case["t"], case["n"], case["c"]
    layout = case.get("layout", "video")
    if layout == "noise":
        x = rng.standard_normal((t, n, c))
    elif layout == "dup":
        base = rng.standard_normal((n, c))
        x = np.stack([base + 0.001 * rng.standard_normal((n, c)) for _ in range(t)])
    else:
        x = np.empty((t, n, c))
        x[0] = rng.standard_normal((n, c))
        static = rng.random(n) < 0.6
        for f in range(1, t):
            fresh = rng.standard_normal((n, c))
            jitter = x[f - 1] + 0.01 * rng.standard_normal((n, c))
            x[f] = np.where(static[:, None], jitter, fresh)
        if t >= 3:  # one near-duplicate consecutive pair
            x[2] = x[1] + 0.001 * rng.standard_normal((n, c))
        x += 0.5 * rng.standard_normal((1, 1, c))  # a shared offset, as real features have
    query = None
    if case.get("q"):
        query = rng.standard_normal((case["q"], c)).astype(np.float32)
    attention = None
    if case.get("attention"):
        a = rng.random((t, n)) ** 3
        attention = (a / a.sum(axis=1, keepdims=True)).astype(np.float32)
    return x.astype(np.float32), query, attention


def toml_table(kind, params):
    """The [compressor] table of a case, as hico reads it."""
    lines = ["[compressor]", f'kind = "{kind}"']
    for k, v in params.items():
        if isinstance(v, bool):
            lines.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, int):
            lines.append(f"{k} = {v}")
        elif isinstance(v, float):
            lines.append(f"{k} = {v!r}")
        elif isinstance(v, str):
            lines.append(f'{k} = "{v}"')
        else:
            raise TypeError(f"{k}: {v!r}")
    return "\n".join(lines) + "\n"


def argsort_desc(scores):
    """Indices by descending score, ties to the lower index."""
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")


def topk_desc(scores, k):
    """The k highest scores' indices, highest first, ties to the lower index."""
    return argsort_desc(scores)[:k]


def normalize(x, axis=-1):
    """x / max(||x||, 1e-12), as torch.nn.functional.normalize."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=axis, keepdims=True), 1e-12)


def keep(tokens, flat):
    """Output of keeping flat indices `flat` in that order: (out [K, C], source [K])."""
    t, n, c = tokens.shape
    flat = np.asarray(flat, dtype=np.int64)
    return tokens.reshape(t * n, c)[flat].astype(np.float32), flat


def means(tokens, groups):
    """Output of averaging each group of flat indices: (out [K, C], source = min of group)."""
    t, n, c = tokens.shape
    x = tokens.reshape(t * n, c).astype(np.float64)
    out = np.stack([x[np.asarray(g)].mean(axis=0) for g in groups]).astype(np.float32)
    return out, np.asarray([min(g) for g in groups], dtype=np.int64)
