"""`vispruner`: VisPruner (Zhang et al., "Beyond Text-Visual Attention: Exploiting Visual Cues for
Effective Token Pruning in VLMs", ICCV 2025, arXiv 2412.01818), written from Theia-4869/VisPruner,
llava/model/llava_arch.py, LlavaMetaForCausalLM.encode_images() (the [VisPruner] blocks). A
video's frames reach encode_images() as its batch of images, so every step below runs per frame
(all frames share the same shapes, hence the same loop).

Per frame, following the official function line by line:
  1. important_token_num = int(visual_token_num * important_ratio);
     diverse_token_num = visual_token_num - important_token_num;
  2. token_indices = argsort(attention, descending) (official: the [CLS] attention of the
     selected layer, mean over heads; hico: the `attention` input; ties to the lower index);
     important = token_indices[:important_token_num], residual = the rest, in that order;
  3. while diverse_token_num > 0: R = len(residual); r = min(8, R - diverse_token_num); stop if
     r <= 0; a = residual[0::2], b = residual[1::2] (features L2-normalised); score of each a =
     its highest cosine similarity to any b; the a's sorted by descending score lose their first
     r; residual = (kept a's, in that score order) + (all b's, in order);
  4. selected = important + residual (important only when diverse_token_num == 0), scattered
     into a boolean mask: the output is the selected tokens in ascending position order, frame
     after frame.

Step 3 gathers the kept a's with a batch index `arange(B)[:, None].expand(-1, R // 2 - r)`,
whose width is R // 2 - r while the kept a's number ceil(R / 2) - r (or none when r exceeds
ceil(R / 2)); torch broadcasts the two index tensors. `_gathered` reproduces what that gives
(including the odd-R case where one a too many is lost) and raises where torch raises.
"""
import numpy as np

from .common import argsort_desc, keep, normalize

KIND = "vispruner"


def _gathered(big_r, r):
    """How many kept a's the official gather returns for R residual tokens and r to remove, or
    ValueError where torch's expand / index broadcast fails."""
    d = max((big_r + 1) // 2 - r, 0)  # distinct_indices' width (slicing past the end: empty)
    m = big_r // 2 - r  # the batch index's expand width
    if m == -1:
        m = 1  # expand(-1, -1) keeps the size-1 dimension
    elif m < -1:
        raise ValueError(f"expand width {m}: the official code fails (R = {big_r}, r = {r})")
    if m == d or m == 1:
        return d
    if d == 1:
        return m  # 0: broadcast (0, 1) -> 0, the one kept a is dropped
    raise ValueError(f"index shapes {m} vs {d}: the official code fails (R = {big_r}, r = {r})")


def reference(tokens, query, attention, visual_token_num=32, important_ratio=0.5):
    t, n, c = tokens.shape
    important_token_num = int(visual_token_num * important_ratio)
    diverse_token_num = visual_token_num - important_token_num
    flat = []
    for f in range(t):
        image_attentions = attention[f].astype(np.float64)
        token_indices = argsort_desc(image_attentions)
        important_indices = token_indices[:important_token_num]
        residual_indices = token_indices[important_token_num:]
        image_normalized = normalize(tokens[f])
        while diverse_token_num > 0:
            big_r = residual_indices.shape[0]
            r = min(8, big_r - diverse_token_num)
            if r <= 0:
                break
            residual_tokens = image_normalized[residual_indices]
            a, b = residual_tokens[0::2], residual_tokens[1::2]
            scores = (a @ b.T).max(axis=-1)
            distinct_indices = argsort_desc(scores)[r:]
            distinct_indices = distinct_indices[: _gathered(big_r, r)]
            residual_indices = np.concatenate(
                [residual_indices[0::2][distinct_indices], residual_indices[1::2]]
            )
        if diverse_token_num > 0:
            selected_indices = np.concatenate([important_indices, residual_indices])
        else:
            selected_indices = important_indices
        index_mask = np.zeros(n, dtype=bool)
        index_mask[selected_indices] = True
        flat.extend(f * n + np.nonzero(index_mask)[0])
    return keep(tokens, flat)


CASES = [
    # N = 16: 12 tokens, 6 important; R = 10, r = 4 (one pairing round).
    dict(name="small", params=dict(visual_token_num=12), t=4, n=16, c=8, attention=True),
    # The defaults on LLaVA-OneVision's 14 x 14 pooled frames: R = 180 -> 172 -> ... -> 16.
    dict(name="default", params=dict(), t=3, n=196, c=16, attention=True),
    dict(name="t8_n64", params=dict(visual_token_num=24, important_ratio=0.25), t=8, n=64, c=32,
         attention=True),
    # int(18 * 0.5) = 9 important: R = 40 -> 32 -> 24 -> 16 -> 9 (last round r = 7).
    dict(name="odd_t_n49", params=dict(visual_token_num=18), t=5, n=49, c=16, attention=True),
    # int(15 * 0.75) = 11 important, 4 diverse: R = 38 -> 30 -> 22 -> 14; R = 14, r = 8 keeps no
    # a (expand(-1, -1)); R = 7, r = 3 loses one a too many: 3 diverse tokens, not 4.
    dict(name="dup", params=dict(visual_token_num=15, important_ratio=0.75), t=6, n=49, c=16,
         attention=True, layout="dup"),
    dict(name="noise", params=dict(visual_token_num=16), t=3, n=36, c=12, attention=True,
         layout="noise"),
    # 8 important, 8 diverse: R = 17 odd, r = 8 of 9 a's: the last a is lost too, so the 8 b's
    # are the diverse tokens (a correct gather would keep 9 and run one more round).
    dict(name="odd_quirk", params=dict(visual_token_num=16), t=3, n=25, c=8, attention=True),
    # 4 important, 5 diverse: R = 12, r = 7 > 6 a's: none kept; then R = 6, r = 1.
    dict(name="all_a_dropped", params=dict(visual_token_num=9), t=2, n=16, c=8, attention=True),
    # A budget at or above N keeps every token; ratio 1: the important tokens only.
    dict(name="keep_all", params=dict(visual_token_num=20), t=2, n=16, c=8, attention=True),
    dict(name="important_only", params=dict(visual_token_num=10, important_ratio=1.0), t=3,
         n=25, c=8, attention=True),
]
