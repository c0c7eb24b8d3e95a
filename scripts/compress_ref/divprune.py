"""`divprune`: DivPrune (Alvar et al., CVPR 2025, arXiv 2503.02175).

Written from vbdi/divprune, LLaVA/llava/model/llava_arch.py: LlavaMetaForCausalLM.DivPrune()
(and pairwise_cosine_similarity()), called from prepare_inputs_labels_for_multimodal() on the
whole visual span, which then sorts the kept indices (keep_indexs.sort()). Here the span is the
whole video's T*N tokens. In float64; the unit rows use torch.nn.functional.normalize's 1e-12
floor (the official code divides by the bare norm).
"""
import numpy as np

from .common import keep, normalize

KIND = "divprune"


def pairwise_cosine_similarity(matrix):
    norm_matrix = normalize(matrix, axis=1)
    return norm_matrix @ norm_matrix.T


def divprune(visual_feature_vectors, image_feature_length, threshold_ratio):
    threshold_terms = int(round(threshold_ratio * image_feature_length))
    cosine_matrix = 1.0 - pairwise_cosine_similarity(visual_feature_vectors)
    s = np.empty(threshold_terms, dtype=np.int64)
    for i in range(threshold_terms):
        if i == 0:
            m2 = cosine_matrix
            # topk(m2, 2, dim=0, largest=False).values[1, :]: each column's second smallest
            scores = np.sort(m2, axis=0)[1, :]
        else:
            m2 = cosine_matrix[s[:i]]
            scores = m2.min(axis=0)
        s[i] = int(np.argmax(scores))  # first maximum, as torch.argmax
    return s


def reference(tokens, query, attention, subset_ratio=0.098):
    t, n, c = tokens.shape
    visual_tokens = tokens.reshape(t * n, c).astype(np.float64)
    selected = divprune(visual_tokens, t * n, subset_ratio)
    return keep(tokens, np.sort(selected))


CASES = [
    dict(name="small", params=dict(subset_ratio=0.25), t=4, n=16, c=8),
    dict(name="default", params=dict(), t=8, n=64, c=32),
    dict(name="7x7_odd_t", params=dict(subset_ratio=0.2), t=5, n=49, c=16),
    dict(name="6x49", params=dict(subset_ratio=0.15), t=6, n=49, c=16),
    dict(name="dup", params=dict(subset_ratio=0.2), t=4, n=16, c=8, layout="dup"),
    dict(name="noise", params=dict(subset_ratio=0.5), t=3, n=16, c=8, layout="noise"),
    dict(name="half_even", params=dict(subset_ratio=0.125), t=5, n=4, c=4),
]
