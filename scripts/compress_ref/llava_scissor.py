"""`llava_scissor`: LLaVA-Scissor, "Token Compression with Semantic Connected Components for
Video LLMs" (arXiv 2506.21862), written from HumanMLLM/LLaVA-Scissor,
llava/model/llava_arch_zip.py: `UnionFind`, `approximate_components()` and the `mm_use_zip`
branch of `LlavaMetaForCausalLM.prepare_inputs_labels_for_multimodal()`.

Steps (each mirrors the official code, in its order):
1. spatial: per frame, binary adjacency `cos > mm_zip_tau`, semantic connected components by
   `approximate_components`, each component -> the mean of its tokens; frames concatenated;
2. temporal: the same over all spatial representatives of the video;
3. merge: every original token goes to its most similar (cosine, argmax) temporal
   representative; output j = (rep_j + sum of its tokens) / (count_j + 1).

The one random step, `np.random.choice(n, size=sample_size, replace=False)`, is replaced by a
deterministic draw (hico's decision, docs/compression.md): all nodes in ascending order when
sample_size == n (at the default epsilon, whenever n <= 3,233), else
`sample_size` evenly spaced nodes k*n // sample_size, ascending. Everything else, the union-find
(union by rank, path halving) and its quirk of collecting a cluster as `parent == root` (nodes
left two steps below the root fall out of every component) included, is reproduced as is.
Decisions in float64; the output is a weighted sum of input tokens, computed in float64.
"""
from collections import defaultdict

import numpy as np

KIND = "llava_scissor"


class UnionFind:
    def __init__(self, size):
        self.parent = np.arange(size, dtype=np.int64)
        self.rank = np.zeros(size, dtype=np.int32)

    def find(self, x):
        while self.parent[x] != x:  # path halving
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def batch_union(self, x_arr, y_arr):
        for x, y in zip(x_arr, y_arr):
            x_root = self.find(x)
            y_root = self.find(y)
            if x_root == y_root:
                continue
            if self.rank[x_root] < self.rank[y_root]:
                self.parent[x_root] = y_root
            else:
                self.parent[y_root] = x_root
                if self.rank[x_root] == self.rank[y_root]:
                    self.rank[x_root] += 1


def sample_nodes(n, sample_size):
    """hico's deterministic stand-in for np.random.choice(n, sample_size, replace=False)."""
    return np.array([k * n // sample_size for k in range(sample_size)], dtype=np.int64)


def approximate_components(adj_matrix, epsilon=0.05):
    n = adj_matrix.shape[0]
    all_nodes = np.ones(n)
    all_indices = np.arange(0, n)
    if n == 0:
        return []
    sample_size = min(n, int(np.ceil(np.log(n) / epsilon**2)))
    sampled_nodes = sample_nodes(n, sample_size)
    all_nodes[sampled_nodes] = 0

    neighbor_dict = defaultdict(list)
    for i in sampled_nodes:
        neighbors = np.nonzero(adj_matrix[i])[0]
        valid_neighbors = np.intersect1d(neighbors, all_indices, assume_unique=True)
        neighbor_dict[i] = valid_neighbors
        all_nodes[neighbors] = 0

    remain_nodes = np.nonzero(all_nodes)[0]
    remain_nodes = [[element] for element in remain_nodes]
    uf = UnionFind(n)
    all_x, all_y = [], []
    for i in sampled_nodes:
        for j in neighbor_dict[i]:
            all_x.append(i)
            all_y.append(j)
    uf.batch_union(np.array(all_x, dtype=np.int64), np.array(all_y, dtype=np.int64))

    sampled_roots = np.array([uf.find(i) for i in sampled_nodes], dtype=np.int64)
    unique_roots = np.unique(sampled_roots)

    components = []
    for root in unique_roots:
        cluster = np.where(uf.parent == root)[0].tolist()  # quirk: only direct children
        if len(cluster) > 0:
            components.append(cluster)
    components.extend(remain_nodes)

    degrees = np.count_nonzero(adj_matrix, axis=1)

    def get_sort_key(cluster):
        max_degree = -1
        min_node = float("inf")
        for node in cluster:
            current_degree = degrees[node]
            if (current_degree > max_degree) or (
                current_degree == max_degree and node < min_node
            ):
                max_degree = current_degree
                min_node = node
        return min_node

    components.sort(key=get_sort_key)
    return components


def normalize(x):
    # the official divides by torch.norm with no floor; the floor only matters for zero tokens
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def reference(tokens, query, attention, mm_zip_tau=0.9, mm_zip_epsilon=0.05):
    t, n, c = tokens.shape
    image_feat = tokens.reshape(t * n, c).astype(np.float64)
    # Each representative is carried with its weights over the flat input tokens (sel_w), which
    # make hico's plan; the features themselves are computed as the official code does.
    image_feat_hw = image_feat.reshape(t, n, c)
    tau, epsilon = mm_zip_tau, mm_zip_epsilon

    # Spatial compression on each frame
    all_fused_feature, all_fused_w = [], []
    for frame_cnt, image_feat_per_frame in enumerate(image_feat_hw):
        x = normalize(image_feat_per_frame)
        high_similarity_indices_per_frame = (x @ x.T) > tau
        connected_components = approximate_components(
            high_similarity_indices_per_frame, epsilon=epsilon
        )
        for connected_component in connected_components:
            all_fused_feature.append(image_feat_per_frame[connected_component].mean(axis=0))
            w = np.zeros(t * n)
            w[frame_cnt * n + np.asarray(connected_component)] = 1.0 / len(connected_component)
            all_fused_w.append(w)
    selected_tokens = np.stack(all_fused_feature)
    sel_w = np.stack(all_fused_w)

    # Temporal compression
    x = normalize(selected_tokens)
    high_similarity_indices_select_tokens = (x @ x.T) > tau
    connected_component_select_tokens = approximate_components(
        high_similarity_indices_select_tokens, epsilon=epsilon
    )
    fused_features, fused_w = [], []
    for connected_component in connected_component_select_tokens:
        fused_features.append(selected_tokens[connected_component].mean(axis=0))
        fused_w.append(sel_w[connected_component].mean(axis=0))
    selected_tokens = np.stack(fused_features)
    sel_w = np.stack(fused_w)
    num_tokens = len(selected_tokens)

    # Token merge for all tokens
    similarity_matrix = normalize(image_feat) @ normalize(selected_tokens).T
    closest_indices = np.argmax(similarity_matrix, axis=1)  # first maximum
    merged_tokens = np.zeros_like(selected_tokens)
    np.add.at(merged_tokens, closest_indices, image_feat)
    counts = np.bincount(closest_indices, minlength=num_tokens).astype(np.float64) + 1
    selected_tokens = (selected_tokens + merged_tokens) / counts[:, None]

    # the same as weights over the input tokens, for `source`
    assign = np.zeros((num_tokens, t * n))
    assign[closest_indices, np.arange(t * n)] = 1.0
    weights = (sel_w + assign) / counts[:, None]
    assert np.allclose(weights @ image_feat, selected_tokens)
    out = selected_tokens.astype(np.float32)
    source = np.array([np.nonzero(w)[0].min() for w in weights], dtype=np.int64)
    return out, source


CASES = [
    dict(name="t4_n16_c8", params=dict(mm_zip_tau=0.7, mm_zip_epsilon=0.05), t=4, n=16, c=8),
    dict(name="t8_n64_c32_default", params=dict(mm_zip_tau=0.9, mm_zip_epsilon=0.05),
         t=8, n=64, c=32),
    dict(name="t6_n49_c16", params=dict(mm_zip_tau=0.7, mm_zip_epsilon=0.05), t=6, n=49, c=16),
    dict(name="odd_t5_n36_c4", params=dict(mm_zip_tau=0.8, mm_zip_epsilon=0.05), t=5, n=36, c=4),
    dict(name="dup", params=dict(mm_zip_tau=0.9, mm_zip_epsilon=0.05), t=4, n=16, c=8,
         layout="dup"),
    dict(name="noise", params=dict(mm_zip_tau=0.8, mm_zip_epsilon=0.05), t=3, n=25, c=4,
         layout="noise"),
    # epsilon = 0.5 samples ceil(ln n / 0.25) < n nodes: the sampled regime, where nodes fall
    # out of every component (the `parent == root` quirk)
    dict(name="sampled_eps", params=dict(mm_zip_tau=0.8, mm_zip_epsilon=0.5), t=4, n=64, c=4,
         seed=1000),
    dict(name="sampled_odd", params=dict(mm_zip_tau=0.7, mm_zip_epsilon=0.5), t=5, n=36, c=4,
         seed=1000),
]
