"""`visionzip`: VisionZip (Yang et al., "VisionZip: Longer is Better but Not Necessary in Vision
Language Models", CVPR 2025, arXiv 2412.04467), written from dvlab-research/VisionZip,
visionzip/clip_encoder.py, CLIPVisionTower_VisionZip.forward() (the video frames of a clip are its
batch, so every step below is per frame), with the CLS-free scoring of the SigLIP ports
(yu-lin-li/DyToK, static_compression(): topk over the attention each token receives, no CLS slot).

Per frame, following the official function line by line:
  1. dominant: the `dominant` tokens with the highest attention received (topk; ties to the lower
     index), gathered by a boolean mask, so in ascending position order (masked_select);
  2. the rest ("filtered"), in ascending position order; their features normalised
     (official: the layer's mean key; hico: the tokens themselves);
  3. step = max(1, R // contextual); targets = arange(0, R, step)[:contextual];
  4. every other filtered token goes to the target of highest cosine similarity (argmax: the
     first maximum);
  5. contextual token = target + (sum of its assigned tokens) / max(count, 1)  [not a mean that
     includes the target: the official code adds the target to the mean of the others];
  6. output: dominant then contextual, frame after frame.
"""
import numpy as np

from .common import normalize, topk_desc

KIND = "visionzip"


def reference(tokens, query, attention, dominant=54, contextual=10):
    t, n, c = tokens.shape
    x = tokens.astype(np.float64)
    outs, sources = [], []
    for f in range(t):
        hidden = x[f]
        score = attention[f].astype(np.float64)
        # Dominant visual tokens: topk, then gathered through a mask (position order).
        topk_indices = topk_desc(score, dominant)
        mask = np.ones(n, dtype=bool)
        mask[topk_indices] = False
        dom_idx = np.nonzero(~mask)[0]
        for i in dom_idx:
            outs.append(hidden[i])
            sources.append(f * n + i)
        # Filter.
        filt_idx = np.nonzero(mask)[0]
        hidden_filtered = hidden[filt_idx]
        metric_normalized = normalize(hidden_filtered)
        # Contextual visual tokens.
        r = metric_normalized.shape[0]
        step = max(1, r // contextual)
        target_indices = np.arange(0, r, step)[:contextual]
        target_tokens = metric_normalized[target_indices]
        is_target = np.isin(np.arange(r), target_indices)
        tokens_to_merge = metric_normalized[~is_target]
        similarity = tokens_to_merge @ target_tokens.T
        assign = similarity.argmax(axis=1) if len(tokens_to_merge) else np.zeros(0, dtype=int)
        hidden_to_merge = hidden_filtered[~is_target]
        merge_pos = filt_idx[~is_target]
        for j, ti in enumerate(target_indices):
            members = np.nonzero(assign == j)[0]
            count = max(len(members), 1)
            aggregated = hidden_to_merge[members].sum(axis=0) / count
            outs.append(hidden_filtered[ti] + aggregated)
            sources.append(f * n + min([filt_idx[ti]] + list(merge_pos[members])))
    out = np.stack(outs).astype(np.float32)
    return out, np.asarray(sources, dtype=np.int64)


CASES = [
    dict(name="small", params=dict(dominant=5, contextual=3), t=4, n=16, c=8, attention=True),
    dict(name="default", params=dict(), t=3, n=196, c=16, attention=True),
    dict(name="t8_n64", params=dict(dominant=12, contextual=4), t=8, n=64, c=32, attention=True),
    dict(name="odd_t_n49", params=dict(dominant=7, contextual=5), t=5, n=49, c=16,
         attention=True),
    dict(name="dup", params=dict(dominant=6, contextual=6), t=6, n=49, c=16, attention=True,
         layout="dup"),
    dict(name="noise", params=dict(dominant=8, contextual=8), t=3, n=36, c=12, attention=True,
         layout="noise"),
    # step = 1: exactly `contextual` filtered tokens left, each its own target.
    dict(name="all_targets", params=dict(dominant=10, contextual=6), t=2, n=16, c=8,
         attention=True),
    dict(name="no_dominant", params=dict(dominant=0, contextual=4), t=3, n=25, c=8,
         attention=True, is_grid=False),
]
