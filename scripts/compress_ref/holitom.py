"""`holitom`: HoliTom's outer-LLM merging (Shao et al., "HoliTom: Holistic Token Merging for
Fast Video Large Language Models", arXiv 2505.21334), written from cokeshao/HoliTom,
holitom/llava_arch.py: prepare_inputs_labels_for_multimodal() (the video branch), with
select_static_windows(), get_static_dynamic_features(), holitom(),
merge_tokens_by_attention_density(), merge_tokens_by_density(), cluster_dpc_knn() and
merge_tokens_by_clustering(). Each function below carries the official one's name and follows
its order of operations, on one batch element where the official code batches frames.

Contract decisions (docs/compression.md): `tokens` stands for the pooled `image_feat`,
`attention` for the pooled `attn_weights` (last-layer attention averaged over heads and
queries); no density noise; every ranking ties to the lower index; output order of the
non-"grid" path (LLaVA-OneVision's `one_token`), without the newline token. Every token is
carried twice: its f64 value (decisions, output) and its weights over the flat inputs (source).
"""
import math

import numpy as np

from .common import normalize, topk_desc

KIND = "holitom"


def cluster_dpc_knn(x, cluster_num, k):
    """Density-peak centres of rows x [L, C]: (centres in score order, distances [L, L])."""
    seq_len, embed_dim = x.shape
    sq = np.zeros((seq_len, seq_len))
    for ch in range(embed_dim):  # sequential over channels, as hico sums
        diff = x[:, None, ch] - x[None, :, ch]
        sq += diff * diff
    dist_matrix = np.sqrt(sq) / math.sqrt(embed_dim)
    dist_nearest = np.sort(dist_matrix, axis=-1, kind="stable")[:, :k]
    msq = np.zeros(seq_len)
    for j in range(k):
        msq += dist_nearest[:, j] ** 2
    density = np.array([math.exp(-(v / k)) for v in msq])
    # (no noise: contract)
    mask = (density[None, :] > density[:, None]).astype(np.float64)  # [i, j]: j denser than i
    dist_max = dist_matrix.max()
    dist = (dist_matrix * mask + dist_max * (1 - mask)).min(axis=-1)
    score = dist * density
    index_center = topk_desc(score, cluster_num)
    return index_center, dist_matrix


def merge_tokens_by_clustering(feat, wts, target_indices, dist_matrix, cluster_num, beta):
    """Each non-centre row joins its nearest centre; a centre with members becomes
    beta * centre + (1 - beta) * mean(members) (NO_BETA unset), else stays itself."""
    seq_len = feat.shape[0]
    non_target = np.array([i for i in range(seq_len) if i not in set(target_indices.tolist())],
                          dtype=np.int64)
    d = dist_matrix[non_target][:, target_indices]
    idx_cluster = np.argmin(d, axis=-1) if len(non_target) else np.zeros(0, np.int64)
    out_f, out_w = [], []
    for i in range(cluster_num):
        members = non_target[idx_cluster == i]
        c = target_indices[i]
        if len(members):
            out_f.append(beta * feat[c] + (1 - beta) * feat[members].mean(axis=0))
            out_w.append(beta * wts[c] + (1 - beta) * wts[members].mean(axis=0))
        else:
            out_f.append(feat[c])
            out_w.append(wts[c])
    return out_f, out_w


def merge_tokens_by_attention_density(feat, wts, attn, retain_ratio, d, beta, k):
    """One frame's dynamic rows: dominant (attention top-k, position order), then contextual
    (density-peak clusters of the rest)."""
    seq_len = feat.shape[0]
    dominant_num = round(math.ceil(seq_len * retain_ratio) * (1 - d))
    contextual_num = math.ceil(seq_len * retain_ratio) - dominant_num
    keep = np.zeros(seq_len, dtype=bool)
    if dominant_num > 0:
        keep[topk_desc(attn, dominant_num)] = True
    out_f = [feat[i] for i in np.nonzero(keep)[0]]
    out_w = [wts[i] for i in np.nonzero(keep)[0]]
    if contextual_num > 0:
        rest = np.nonzero(~keep)[0]
        target, dist = cluster_dpc_knn(feat[rest], contextual_num, min(k, contextual_num))
        target = np.sort(target)
        f, w = merge_tokens_by_clustering(feat[rest], wts[rest], target, dist, contextual_num,
                                          beta)
        out_f += f
        out_w += w
    return out_f, out_w


def merge_tokens_by_density(feat, wts, retain_ratio, beta, k):
    """A window's static rows: round(S * ratio) density-peak clusters."""
    seq_len = feat.shape[0]
    cluster_num = round(seq_len * retain_ratio)
    if cluster_num <= 0:
        return [], []
    target, dist = cluster_dpc_knn(feat, cluster_num, min(k, cluster_num))
    target = np.sort(target)
    return merge_tokens_by_clustering(feat, wts, target, dist, cluster_num, beta)


def select_static_windows(feature_sim, batch_size, tau, max_window_size):
    """Segments [(start, end)] maximising the pruned static tokens, and that total."""
    seq = feature_sim.shape[1]
    similarity_matrix = np.ones((batch_size, batch_size, seq))
    for start in range(batch_size - 1):
        cum = np.cumprod(feature_sim[start:] > tau, axis=0)
        similarity_matrix[start, start + 1:start + 1 + len(cum)] = cum
    ar = np.arange(batch_size)
    window_lengths = np.clip(ar[None, :] - ar[:, None], 0, None)
    pruned_static_count = similarity_matrix.sum(axis=-1) * window_lengths
    dp = np.zeros(batch_size)
    prev = np.zeros(batch_size, dtype=np.int64)
    for i in range(batch_size):
        max_val = dp[i - 1] if i > 0 else 0
        best_j = i
        for window_size in range(2, min(i + 1, max_window_size) + 1):
            j = i - window_size
            current_val = (dp[j] if j >= 0 else 0) + pruned_static_count[j + 1, i]
            if current_val > max_val:
                max_val = current_val
                best_j = j + 1
        dp[i] = max_val
        prev[i] = best_j
    selected = []
    i = batch_size - 1
    while i >= 0:
        selected.append((int(prev[i]), i))
        i = int(prev[i]) - 1
    return selected[::-1], float(dp[-1])


def reference(tokens, query, attention, retain_ratio=0.1, tau=0.8, beta=0.6, d=0.0, k=7,
              max_window_size=1024):
    t, n, c = tokens.shape
    x = tokens.astype(np.float64)
    attn = (attention.astype(np.float64) if attention is not None else np.zeros((t, n)))
    onehot = np.eye(t * n).reshape(t, n, t * n)  # weights of each input token
    xn = normalize(x)
    feature_sim = (xn[:-1] * xn[1:]).sum(axis=-1)  # [t-1, n]
    selected, total_reduced = select_static_windows(feature_sim, t, tau, max_window_size)
    total_tokens = t * n
    ratio = min(retain_ratio / ((total_tokens - total_reduced) / total_tokens), 1)

    out_f, out_w = [], []
    for start, end in selected:  # holitom() per segment, get_static_dynamic_features inline
        if start == end:
            f, w = merge_tokens_by_attention_density(x[start], onehot[start], attn[start],
                                                     ratio, d, beta, k)
            out_f += f
            out_w += w
            continue
        mask = np.all(feature_sim[start:end] > tau, axis=0)
        static_f = x[start:end + 1][:, mask].mean(axis=0)
        static_w = onehot[start:end + 1][:, mask].mean(axis=0)
        sf, sw = merge_tokens_by_density(static_f, static_w, ratio, beta, k)
        dyn_f, dyn_w = [], []
        for fr in range(start, end + 1):
            f, w = merge_tokens_by_attention_density(x[fr][~mask], onehot[fr][~mask],
                                                     attn[fr][~mask], ratio, d, beta, k)
            dyn_f += f
            dyn_w += w
        out_f += sf + dyn_f
        out_w += sw + dyn_w
    out = np.stack(out_f).astype(np.float32)
    source = np.array([int(np.nonzero(w)[0].min()) for w in out_w], dtype=np.int64)
    return out, source


CASES = [
    dict(name="t4_n16", params=dict(), t=4, n=16, c=8, attention=True),
    dict(name="t8_n64", params=dict(), t=8, n=64, c=32, attention=True),
    dict(name="t6_n49", params=dict(retain_ratio=0.25), t=6, n=49, c=16, attention=True),
    dict(name="odd_t5", params=dict(retain_ratio=0.2), t=5, n=16, c=8, attention=True),
    dict(name="dup", params=dict(retain_ratio=0.15), t=6, n=16, c=8, attention=True,
         layout="dup"),
    dict(name="noise", params=dict(retain_ratio=0.25), t=4, n=16, c=8, attention=True,
         layout="noise"),
    dict(name="contextual", params=dict(retain_ratio=0.3, tau=0.9, beta=0.3, d=0.5, k=3,
                                        max_window_size=2),
         t=7, n=36, c=16, attention=True),
    dict(name="window3", params=dict(retain_ratio=0.2, max_window_size=3, d=0.25), t=8, n=25,
         c=8, attention=True),
    dict(name="no_attention", params=dict(retain_ratio=0.2, d=1.0, beta=1.0, k=4),
         t=5, n=20, c=8, is_grid=False),
]
