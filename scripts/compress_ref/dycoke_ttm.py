"""`dycoke_ttm`: DyCoke's temporal token merging (TTM), its first stage, before the LLM.

Paper: Tao et al., "DyCoke: Dynamic Compression of Tokens for Fast Video Large Language Models",
CVPR 2025 (arXiv 2411.15024). Written from KD-TAO/DyCoke, `llava/model/llava_arch.py`,
`dycole_ttm()` (sic), called by `prepare_inputs_labels_for_multimodal()` on the flattened video
features of LLaVA-OneVision (one_token newline, unpad), with `merging_ratio = dycoke_k`.

The structure below follows the official function step by step:
  1. pairs (i, i+1) for i in range(0, T-1, 2): cosine similarity of same-position tokens
     (after an L2 normalize); frame i kept whole, frame i+1 keeps the int((1-k)·N) LEAST similar
     tokens, in ascending-similarity order (topk largest=False);
  2. windows i in range(0, T-4, 4): frame i+2 replaced by its int((1-k)·N) tokens least similar
     to frame i (raw frame i), same order; frame i stays whole.
  3. concatenation of the per-frame lists in frame order.
Tokens are dropped, never averaged. With an odd T the last frame is in no pair and is dropped
whole; the last window of a T divisible by 4 is not processed by step 2 (range stops before
T-4). The official code fails for T <= 4 (torch.stack of an empty list); so does this one.
Decisions in float64; ties to the lower index (a stable sort).
"""
import numpy as np

from .common import keep, normalize

KIND = "dycoke_ttm"


def cosine_similarity(a, b, eps=1e-8):
    """torch.nn.functional.cosine_similarity(a, b, dim=1): rows divided by max(norm, eps)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.maximum(np.linalg.norm(a, axis=1, keepdims=True), eps)
    nb = np.maximum(np.linalg.norm(b, axis=1, keepdims=True), eps)
    return ((a / na) * (b / nb)).sum(axis=1)


def topk_smallest(scores, k):
    """scores.topk(k, largest=False).indices: ascending, ties to the lower index."""
    return np.argsort(np.asarray(scores, dtype=np.float64), kind="stable")[:k]


def reference(tokens, query, attention, merging_ratio=0.7):
    t, n, c = tokens.shape
    feats = tokens.reshape(t * n, c).astype(np.float64)
    # Each "frame" below is the array of flat indices of its (kept) tokens.
    frame = lambda f: np.arange(f * n, (f + 1) * n)  # noqa: E731
    num_frames = (t * n) // n
    merging_ratio = 1 - merging_ratio
    num_tokens_to_keep = int(merging_ratio * n)
    if not 0 <= num_tokens_to_keep <= n:
        raise ValueError(f"merging_ratio keeps {num_tokens_to_keep} of {n} tokens")

    # Similarities between the frames of each pair (i, i+1).
    similarities = []
    for i in range(0, num_frames - 1, 2):
        f1, f2 = feats[frame(i)], feats[frame(i + 1)]
        similarities.append(cosine_similarity(normalize(f1, axis=1), normalize(f2, axis=1)))
    if not similarities:
        raise ValueError("dycole_ttm stacks an empty list: needs T >= 5")

    modified = []
    for i in range(0, num_frames - 1, 2):
        tokens_to_keep = topk_smallest(similarities[i // 2], num_tokens_to_keep)
        modified.append(frame(i))
        modified.append(frame(i + 1)[tokens_to_keep])

    # Frame i+2 of each window of 4, against frame i.
    odd_similarities = []
    for i in range(0, num_frames - 4, 4):
        odd_similarities.append(cosine_similarity(feats[frame(i)], feats[frame(i + 2)]))
    if not odd_similarities:
        raise ValueError("dycole_ttm stacks an empty list: needs T >= 5")

    for i in range(0, num_frames - 4, 4):
        tokens_to_keep = topk_smallest(odd_similarities[i // 4], num_tokens_to_keep)
        modified[i] = frame(i)
        modified[i + 2] = frame(i + 2)[tokens_to_keep]

    return keep(tokens, np.concatenate(modified))


CASES = [
    dict(name="t5_n16", params=dict(merging_ratio=0.7), t=5, n=16, c=8),
    dict(name="t8_n64", params=dict(merging_ratio=0.7), t=8, n=64, c=24),
    dict(name="t6_n49", params=dict(merging_ratio=0.7), t=6, n=49, c=16),
    dict(name="t9_odd", params=dict(merging_ratio=0.7), t=9, n=36, c=16),
    dict(name="t13_dup", params=dict(merging_ratio=0.7), t=13, n=16, c=8, layout="dup"),
    dict(name="t12_noise", params=dict(merging_ratio=0.7), t=12, n=25, c=8, layout="noise"),
    dict(name="t16_k05", params=dict(merging_ratio=0.5), t=16, n=16, c=8),
    dict(name="t7_k03", params=dict(merging_ratio=0.3), t=7, n=49, c=8),
    dict(name="t6_k1_keeps_none", params=dict(merging_ratio=1.0), t=6, n=16, c=8),
    dict(name="t5_k0_reorders", params=dict(merging_ratio=0.0), t=5, n=16, c=8),
]
