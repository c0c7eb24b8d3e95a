"""`cdpruner`: CDPruner (Zhang et al., NeurIPS 2025, arXiv 2506.10967).

Written from Theia-4869/CDPruner, llava/model/llava_arch.py: LlavaMetaForCausalLM.encode_images()
(the [CDPruner] blocks), with the video's frames as the batch B that encode_images() receives:
per frame the DPP keeps visual_token_num tokens, the relevance is min-max normalised over the whole
batch. hico's contract: `tokens` stand for both the projected features (similarity) and the CLIP
image embeddings (relevance), the `query` rows for the CLIP text embeddings (one row per text
segment there). In float64; unit rows with torch.nn.functional.normalize's 1e-12 floor. The
fixtures never spend the kernel's rank (hico fills the rest in index order; the official code
would divide by sqrt(0)), which the assert below checks.
"""
import numpy as np

from .common import keep, normalize

KIND = "cdpruner"


def encode_images(image_features, text_embeds, visual_token_num):
    B, N, C = image_features.shape
    # cosine similarity
    image_normalized = normalize(image_features, axis=-1)  # (B, N, D)
    similarity = image_normalized @ image_normalized.transpose(0, 2, 1)  # (B, N, N)
    # query relevance
    image_embeds = normalize(image_features, axis=-1)  # (B, N, C)
    text_embeds = normalize(text_embeds, axis=-1)  # (M, C)
    relevance = image_embeds @ text_embeds.T  # (B, N, M)
    relevance = (-relevance).mean(axis=-1)  # (B, N)
    lo, hi = relevance.min(), relevance.max()
    relevance = (relevance - lo + 1e-6) / (hi - lo)  # (B, N)
    # kernel matrix
    kernel = relevance[:, :, None] * similarity * relevance[:, None, :]  # (B, N, N)
    # fast MAP inference of conditional DPP
    ar = np.arange(B)
    cis = np.zeros((visual_token_num, B, N))  # (T, B, N)
    di2s = np.diagonal(kernel, axis1=1, axis2=2).copy()  # (B, N)
    select_idx = np.empty((visual_token_num, B), dtype=np.int64)  # (T, B)
    for i in range(visual_token_num):
        j = np.argmax(di2s, axis=-1)  # first maximum, as torch.argmax
        assert (di2s[ar, j] > 0).all(), "the kernel's rank is spent"
        select_idx[i] = j
        eis = (kernel[ar, j] - np.einsum("tb,tbn->bn", cis[:i, ar, j], cis[:i])) / np.sqrt(
            di2s[ar, j]
        )[:, None]
        cis[i, :, :] = eis
        di2s -= np.square(eis)
        di2s[ar, j] = -np.inf
    select_idx = np.sort(select_idx.T, axis=-1)  # (B, T)
    index_masks = np.zeros((B, N), dtype=bool)
    index_masks[ar[:, None], select_idx] = True
    return index_masks


def reference(tokens, query, attention, visual_token_num=32):
    t, n, c = tokens.shape
    masks = encode_images(tokens.astype(np.float64), query.astype(np.float64), visual_token_num)
    return keep(tokens, np.flatnonzero(masks.reshape(-1)))


CASES = [
    dict(name="small", params=dict(visual_token_num=4), t=4, n=16, c=8, q=3),
    dict(name="default", params=dict(), t=4, n=64, c=48, q=5),
    dict(name="7x7_odd_t", params=dict(visual_token_num=9), t=5, n=49, c=16, q=4),
    dict(name="6x49", params=dict(visual_token_num=12), t=6, n=49, c=32, q=1),
    dict(name="dup", params=dict(visual_token_num=6), t=4, n=16, c=16, q=2, layout="dup"),
    dict(name="noise", params=dict(visual_token_num=8), t=3, n=16, c=16, q=7, layout="noise"),
]
