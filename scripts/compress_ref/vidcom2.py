"""`vidcom2`: VidCom² (Liu et al., EMNLP 2025, arXiv:2505.14454), written from
xuyang-liu16/VidCom2, token_compressor/vidcom2/vidcom2.py: vidcom2_compression() for
model="llava_ov" (the linear index mapping) and its helpers select_low_var_channels(),
compute_gaussian_scores(), _multi_scale_gaussian(), compute_scales(),
select_outlier_indices(), _map_linear_offset(). One function per official helper, in its order;
numpy float64 instead of torch float32 (the contract: decisions in f64); ties go to the lower
index (stable sorts) where torch.topk leaves them unspecified.
"""
import numpy as np

from .common import keep, normalize

KIND = "vidcom2"


def select_low_var_channels(x, ratio=0.5):
    """The int(C * ratio) channels of lowest biased variance, lowest first."""
    variances = x.var(axis=0)  # unbiased=False
    k = int(x.shape[-1] * ratio)
    topk_idx = np.argsort(variances, kind="stable")[:k]  # torch.topk(largest=False)
    return x[:, topk_idx]


def _multi_scale_gaussian(x, center, alphas):
    dist_sq = ((x - center) ** 2).sum(axis=-1)
    return sum(np.exp(-dist_sq / (2 * a)) for a in alphas)


def compute_gaussian_scores(x, tpf):
    frames = x.reshape(-1, tpf, x.shape[-1])
    frames = normalize(frames, axis=-1)
    vid_center = frames.mean(axis=(0, 1), keepdims=True)
    frame_center = frames.mean(axis=1, keepdims=True)
    alphas = [2.0**k for k in range(-3, 2)]
    v_score = _multi_scale_gaussian(frames, vid_center, alphas)
    f_score = _multi_scale_gaussian(frames, frame_center, alphas)
    return v_score, f_score


def compute_scales(scores, base, temp=0.01):
    z = (scores - scores.max()) / temp
    e = np.exp(z - z.max())  # F.softmax(dim=0)
    probs = e / e.sum()
    scales = base * (1 + probs - probs.mean())
    return np.minimum(scales, 1.0)  # clamp(max=1.0)


def select_outlier_indices(scores, scales, tpf):
    ks = [max(round(float(s) * tpf), 1) for s in scales]  # .round() (half even), clamp(min=1)
    batch_indices = []
    for i, k in enumerate(ks):
        idx = np.argsort(scores[i], kind="stable")[:k]  # topk(largest=False): most distinct
        batch_indices.append(np.sort(idx))
    return batch_indices


def _map_linear_offset(indices, tpf):
    return np.concatenate([idx + i * tpf for i, idx in enumerate(indices)])


def reference(tokens, query, attention, base_scale=0.25, temp=0.01):
    t, tpf, c = tokens.shape
    flattened_feat = tokens.reshape(t * tpf, c).astype(np.float64)
    sel_feat = select_low_var_channels(flattened_feat)
    vid_score, frame_score = compute_gaussian_scores(sel_feat, tpf)
    scales = compute_scales(-vid_score.mean(axis=-1), base_scale, temp)
    indices = select_outlier_indices(vid_score + frame_score, scales, tpf)
    return keep(tokens, _map_linear_offset(indices, tpf))


CASES = [
    dict(name="t4_n16", params=dict(base_scale=0.25, temp=0.01), t=4, n=16, c=8),
    dict(name="t8_n64", params=dict(base_scale=0.25, temp=0.01), t=8, n=64, c=32),
    dict(name="t6_n49", params=dict(base_scale=0.25, temp=0.01), t=6, n=49, c=16),
    dict(name="odd_t7", params=dict(base_scale=0.3, temp=0.05), t=7, n=36, c=12),
    dict(name="dup", params=dict(base_scale=0.25, temp=0.01), t=5, n=25, c=8, layout="dup"),
    dict(name="noise", params=dict(base_scale=0.5, temp=0.01), t=4, n=49, c=16, layout="noise"),
    dict(name="warm_temp", params=dict(base_scale=0.1, temp=1.0), t=9, n=16, c=9),
    dict(name="one_frame", params=dict(base_scale=0.75, temp=0.01), t=1, n=49, c=8),
]
