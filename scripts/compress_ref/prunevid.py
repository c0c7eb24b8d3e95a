"""`prunevid`: the spatial-temporal token merging stage of PruneVid ("PruneVid: Visual Token
Pruning for Efficient Video Large Language Models", ACL 2025 Findings, arXiv 2412.16117).

Written from Visual-AI/PruneVid, models/pllava/modeling_pllava.py: PllavaForConditionalGeneration
.merge_frames_dynamic() with the module-level cluster_dpc_knn(), refine_clusters() and
segment_lengths() and the methods spatial_merge_tokens() / compute_cluster_vectors(); called in
forward() as merge_frames_dynamic(image_features, threshold=config.tau, k=7). Defaults from
scripts/eval.sh (tau 0.8, temporal_segment_ratio 0.25, cluster_ratio 0.5).

Functions keep the official names and order of operations, on one video (B = 1). Contract
decisions: the noise the official DPC-KNN adds to densities is left out; topk ties go to the
lower index (argmin already takes the first); decisions in float64 with sums taken one term after
the other (as hico does), so that both sides round alike. Each feature row carries the flat input
indices it stands for; `source` is their minimum.
"""
import math

import numpy as np

KIND = "prunevid"
SPATIAL_K = 7  # k=7 literal in merge_frames_dynamic's calls of spatial_merge_tokens
MIN_CLUSTERED = 14  # a static or dynamic set is clustered only when it holds more than 14


def seqsum(x, axis):
    """Sum along `axis` one term after the other."""
    x = np.moveaxis(np.asarray(x, dtype=np.float64), axis, 0)
    acc = np.zeros(x.shape[1:])
    for v in x:
        acc = acc + v
    return acc


def cdist(x):
    """[N, N] Euclidean distances of the rows of x [N, C]."""
    diff = x[:, None, :] - x[None, :, :]
    return np.sqrt(seqsum(diff * diff, axis=2))


def topk_desc(scores, k):
    return np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]


def cluster_dpc_knn(x, cluster_num, k):
    """DPC-KNN on x [N, C]: idx_cluster [N] in 0..cluster_num (label j = j-th center by score)."""
    n, c = x.shape
    dist_matrix = cdist(x) / (c ** 0.5)
    # local density from the k nearest (self included), no noise (contract)
    dist_nearest = np.sort(dist_matrix, axis=-1)[:, :k]
    density = np.array([math.exp(-(seqsum(d ** 2, axis=0) / k)) for d in dist_nearest])
    # distance to the nearest token of higher density (the global max where there is none)
    mask = (density[None, :] > density[:, None]).astype(np.float64)
    dist_max = dist_matrix.max()
    dist = (dist_matrix * mask + dist_max * (1 - mask)).min(axis=-1)
    score = dist * density
    index_down = topk_desc(score, cluster_num)
    # assign every token to the nearest center (first on ties), centers to themselves
    idx_cluster = dist_matrix[index_down].argmin(axis=0)
    idx_cluster[index_down] = np.arange(cluster_num)
    return idx_cluster


def refine_clusters(cluster_idx):
    """Keep each cluster's longest run(s) of consecutive frames; the other runs (and clusters
    whose runs are all single frames) join the longer neighbouring run, the left one on ties."""
    n = len(cluster_idx)
    refined = list(int(v) for v in cluster_idx)
    segment_info = {}
    for label in sorted(set(refined)):
        indices = [i for i in range(n) if cluster_idx[i] == label]
        segments = []
        start = prev = indices[0]
        for i in indices[1:]:
            if i == prev + 1:
                prev = i
            else:
                segments.append((start, prev))
                start = prev = i
        segments.append((start, prev))
        segment_info[label] = segments
    for label, segments in segment_info.items():
        max_length = max(e - s + 1 for s, e in segments)
        if max_length == 1:
            for s, e in segments:
                refined[s:e + 1] = [-1] * (e - s + 1)
            continue
        for s, e in segments:
            if e - s + 1 != max_length:
                refined[s:e + 1] = [-1] * (e - s + 1)
    idx = 0
    while idx < n:
        if refined[idx] == -1:
            start = idx
            while idx < n and refined[idx] == -1:
                idx += 1
            end = idx - 1
            left_label, left_length = None, 0
            if start > 0:
                left_label = refined[start - 1]
                l_idx = start - 1
                while l_idx >= 0 and refined[l_idx] == left_label:
                    l_idx -= 1
                left_length = start - l_idx - 1
            right_label, right_length = None, 0
            if end < n - 1:
                right_label = refined[end + 1]
                r_idx = end + 1
                while r_idx < n and refined[r_idx] == right_label:
                    r_idx += 1
                right_length = r_idx - end - 1
            if left_length > right_length:
                new_label = left_label
            elif right_length > left_length:
                new_label = right_label
            else:
                new_label = left_label if left_label is not None else right_label
            if new_label is None:
                new_label = 0
            refined[start:end + 1] = [new_label] * (end - start + 1)
        else:
            idx += 1
    return refined


def segment_lengths(labels):
    """Lengths of the runs of equal consecutive labels."""
    lengths, run = [], 1
    for a, b in zip(labels[:-1], labels[1:]):
        if a == b:
            run += 1
        else:
            lengths.append(run)
            run = 1
    lengths.append(run)
    return lengths


def spatial_merge_tokens(feature, groups, num_cluster, k):
    """DPC-KNN clusters of feature [S, C], each replaced by its mean (compute_cluster_vectors)."""
    cluster_idx = cluster_dpc_knn(feature, num_cluster, k)
    out, out_groups = [], []
    for j in range(num_cluster):
        members = [i for i in range(len(feature)) if cluster_idx[i] == j]
        out.append(seqsum(feature[members], axis=0) / len(members))
        out_groups.append(sorted(g for i in members for g in groups[i]))
    return np.stack(out), out_groups


def normalize(x):
    """x / max(||x||, 1e-12) along the last axis, the norm summed term by term."""
    norm = np.sqrt(seqsum(x * x, axis=-1))
    return x / np.maximum(norm, 1e-12)[..., None]


def merge_frames_dynamic(frames, tau, temporal_segment_ratio, cluster_ratio, k):
    t, n, c = frames.shape
    flat = np.arange(t * n).reshape(t, n)
    frame_means = seqsum(frames, axis=1) / n  # frames.mean(dim=2): a frame's global feature
    idx_clusters = cluster_dpc_knn(frame_means, int(t * temporal_segment_ratio), k)
    idx_clusters = refine_clusters(idx_clusters)
    window_list = segment_lengths(idx_clusters)

    feats, groups = [], []
    start_idx = 0
    for window_size in window_list:
        current = frames[start_idx:start_idx + window_size]  # W L C
        cur_flat = flat[start_idx:start_idx + window_size]
        normed = normalize(current)
        # frames_sim[w, t, l], summed over t, minus self, summed over w, / W(W-1)
        sim = np.stack([seqsum(normed[w][None] * normed, axis=2) for w in range(window_size)])
        per_w = np.stack([seqsum(sim[w], axis=0) - 1 for w in range(window_size)])
        frames_sim = seqsum(per_w, axis=0) / (window_size * (window_size - 1))
        mask = frames_sim > tau

        # static: averaged over the window's frames, then clustered
        static_pos = np.nonzero(mask)[0]
        static_feat = seqsum(current[:, static_pos], axis=0) / window_size
        static_groups = [sorted(cur_flat[:, p].tolist()) for p in static_pos]
        if len(static_pos) > MIN_CLUSTERED:
            static_feat, static_groups = spatial_merge_tokens(
                static_feat, static_groups, int(len(static_pos) * cluster_ratio), SPATIAL_K)
        feats.extend(list(static_feat))
        groups.extend(static_groups)

        # dynamic: per frame, clustered
        dyn_pos = np.nonzero(~mask)[0]
        for i in range(window_size):
            dyn_feat = current[i, dyn_pos]
            dyn_groups = [[int(cur_flat[i, p])] for p in dyn_pos]
            if len(dyn_pos) > MIN_CLUSTERED:
                dyn_feat, dyn_groups = spatial_merge_tokens(
                    dyn_feat, dyn_groups, int(len(dyn_pos) * cluster_ratio), SPATIAL_K)
            feats.extend(list(dyn_feat))
            groups.extend(dyn_groups)
        start_idx += window_size
    return np.stack(feats), groups


def reference(tokens, query, attention, tau=0.8, temporal_segment_ratio=0.25, cluster_ratio=0.5,
              k=7):
    frames = tokens.astype(np.float64)
    out, groups = merge_frames_dynamic(frames, tau, temporal_segment_ratio, cluster_ratio, k)
    return out.astype(np.float32), np.asarray([min(g) for g in groups], dtype=np.int64)


CASES = [
    # seeds chosen so that the temporal segmentation splits the video (windows in comments)
    dict(name="t4_n16", params=dict(temporal_segment_ratio=0.5, k=3), t=4, n=16, c=8),  # [4]
    dict(name="t8_n64_default", params=dict(), t=8, n=64, c=32, seed=1026),  # [3, 2, 3]
    dict(name="t6_n49", params=dict(temporal_segment_ratio=0.5, k=4), t=6, n=49, c=16,
         seed=1007),  # [3, 3]
    dict(name="odd_t7_n36", params=dict(), t=7, n=36, c=8),  # [7], k = T
    dict(name="odd_t9_n36", params=dict(temporal_segment_ratio=0.5, k=3), t=9, n=36, c=8,
         seed=1017),  # [5, 2, 2]
    dict(name="dup_t8_n25", params=dict(), t=8, n=25, c=8, layout="dup"),  # [8], all static
    dict(name="noise_t8_n32", params=dict(temporal_segment_ratio=0.5, k=3), t=8, n=32, c=8,
         layout="noise", seed=1008),  # [5, 3], all dynamic
    dict(name="nondefault", params=dict(tau=0.5, temporal_segment_ratio=0.375, cluster_ratio=0.3,
                                        k=5), t=8, n=49, c=8, is_grid=False, seed=1000),  # [3, 3, 2]
    dict(name="pllava_t16_n144", params=dict(), t=16, n=144, c=4, seed=1003),  # [8, 4, 4]
]
