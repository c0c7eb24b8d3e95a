"""`fastvid`: FastVID (Shen et al., "FastVID: Dynamic Density Pruning for Fast Video Large
Language Models", NeurIPS 2025, arXiv 2503.11187), written from LunarShen/FastVID,
fastvid_llavaonevision/LLaVA-NeXT/llava/model/language_model/modeling_qwen2.py,
Qwen2Model.forward() (the block between "FastVID" banners, run once at prefill on the video's
tokens; the LLaVA-Video port's file of the same name runs a per-segment variant, not this one).

Following the official block section by section (its section names in brackets):
  [DySeg] frame global features (official: SigLIP's pooled head output; hico contract: the mean
     of the frame's tokens), L2-normalised; sim[i] = cos(frame i, frame i+1); cuts at the
     dyseg_c - 1 lowest sims (topk largest=False; ties to the lower index) and wherever
     sim < dyseg_tau; a cut i ends a segment at frame i.
  [STPrune] retain = int(N * retention_ratio); salient = retain - int(retain * stprune_d);
     context = retain - salient, per frame.
  [Compute Anchor Token Distribution] per segment of L frames: cur = context * L // ceil(L / p);
     the frames L-1, L-1-p, L-1-2p, ... of the segment (counted from its end) get cur anchors,
     the others none.
  [ATS] every frame keeps its `salient` most-attended tokens (topk of `attention`).
  [Parallel Density Score Computation] per frame, on the other ("filtered") tokens in position
     order: d = cdist / sqrt(C); density = exp(-mean of the squared 4 smallest d (self included));
     (the official 1e-6 uniform noise on the density is left out, per the contract);
     dist0 = distance to the nearest token of strictly higher density (the frame's largest d
     if none); score = dist0 * density.
  [DTM for Single-Frame Segment] frames whose anchor count equals `context`: anchors = topk
     score (context of them); every filtered token of the frame (anchors included) goes to the
     anchor of highest cosine similarity (argmax: first maximum); with n tokens assigned,
     w = max(1 / (n + 1), dtm_beta) and the anchor becomes w * anchor + (1 - w) * mean(assigned)
     (mean := 0 when n = 0).
  [DTM for Multi-Frame Segment] per segment of L > 1 frames, each frame with more than
     `context` anchors picks its top-`cur` score tokens as anchors and merges into them, as
     above, the filtered tokens of ALL the segment's frames (each anchor frame does so on its
     own, so a token feeds one anchor of every anchor frame of its segment).
  output: salient tokens and anchors, sorted by their own flat index (argsort of keep_indexs).
Frames of a multi-frame segment whose anchor count is neither `context` nor above it (0, or
every anchor frame when cur == context) keep only their salient tokens, as in the official code.
"""
import numpy as np

from .common import normalize, topk_desc

KIND = "fastvid"


def dtm(targets, target_idx, pool, pool_idx, beta):
    """Merge `pool` [P, C] into `targets` [k, C]; (tokens [k, C], sources [k])."""
    to_be_merge_tokens = normalize(pool)
    merge_target_tokens = normalize(targets)
    similarity = to_be_merge_tokens @ merge_target_tokens.T
    assign = similarity.argmax(axis=1)
    assign_one_hot = np.zeros((pool.shape[0], targets.shape[0]))
    assign_one_hot[np.arange(pool.shape[0]), assign] = 1.0
    n = assign_one_hot.sum(axis=0)[:, None]
    avg_weights = np.maximum(1.0 / (n + 1.0), beta)
    counts = np.maximum(n, 1.0)
    aggregated_hidden = (assign_one_hot.T @ pool) / counts
    out = avg_weights * targets + (1.0 - avg_weights) * aggregated_hidden
    sources = []
    for a in range(targets.shape[0]):
        members = [target_idx[a]]
        if 1.0 - avg_weights[a, 0] != 0.0:
            members += [pool_idx[j] for j in np.nonzero(assign == a)[0]]
        sources.append(min(members))
    return out, sources


def reference(tokens, query, attention, retention_ratio=0.10, dyseg_c=8, dyseg_tau=0.9,
              stprune_d=0.4, dtm_p=4, dtm_beta=0.6):
    frame_num, frame_token_len, dim = tokens.shape
    video_hidden_states = tokens.astype(np.float64)
    frame_attn_weights = attention.astype(np.float64)
    alltoken_indices = np.arange(frame_num * frame_token_len).reshape(frame_num, frame_token_len)

    # DySeg
    frame_global_features = normalize(video_hidden_states.mean(axis=1))
    similarity_matrix = (frame_global_features[:-1] * frame_global_features[1:]).sum(axis=1)
    assert 1 <= dyseg_c <= frame_num, "dyseg_c"
    cut_indices_topk = np.argsort(similarity_matrix, kind="stable")[: dyseg_c - 1]
    cut_indices_cos = np.nonzero(similarity_matrix < dyseg_tau)[0]
    cut_indices = np.unique(np.concatenate([cut_indices_topk, cut_indices_cos]).astype(np.int64))
    padded = np.concatenate([[-1], cut_indices, [frame_num - 1]])
    segment_sizes = np.diff(padded).tolist()

    # STPrune
    frame_retain_num = int(frame_token_len * retention_ratio)
    frame_salient_num = frame_retain_num - int(frame_retain_num * stprune_d)
    frame_context_num = frame_retain_num - frame_salient_num
    assert frame_context_num >= 1 and frame_token_len - frame_salient_num >= 4

    # Compute Anchor Token Distribution
    frm_context_num_list = np.zeros(frame_num, dtype=np.int64)
    offset = 0
    for seg_i_len in segment_sizes:
        seg_context_num = frame_context_num * seg_i_len
        temp_num = (seg_i_len + dtm_p - 1) // dtm_p
        cur_frm_context_num = seg_context_num // temp_num
        end = offset + seg_i_len
        seg_indices = np.arange(seg_i_len - 1, -1, -1)
        mask = seg_indices % dtm_p == 0
        frm_context_num_list[offset:end][mask] = cur_frm_context_num
        offset = end

    keep_indexs, final_tokens, final_sources = [], [], []

    # ATS
    salient_indexes = np.stack([topk_desc(frame_attn_weights[f], frame_salient_num)
                                for f in range(frame_num)]).reshape(frame_num, frame_salient_num)
    for f in range(frame_num):
        for i in salient_indexes[f]:
            final_tokens.append(video_hidden_states[f, i])
            keep_indexs.append(alltoken_indices[f, i])
            final_sources.append(alltoken_indices[f, i])

    # Parallel Density Score Computation
    all_indices_mask = np.ones((frame_num, frame_token_len), dtype=bool)
    for f in range(frame_num):
        all_indices_mask[f, salient_indexes[f]] = False
    m = frame_token_len - frame_salient_num
    filtered_indices = np.stack([np.nonzero(all_indices_mask[f])[0] for f in range(frame_num)])
    token_filtered = np.stack([video_hidden_states[f, filtered_indices[f]]
                               for f in range(frame_num)])  # [T, M, C]
    alltoken_filtered_indices = np.stack([alltoken_indices[f, filtered_indices[f]]
                                          for f in range(frame_num)])
    diff = token_filtered[:, :, None, :] - token_filtered[:, None, :, :]
    dist_matrix = np.sqrt((diff ** 2).sum(axis=-1)) / (dim ** 0.5)  # [T, M, M]
    dist_nearest = np.sort(dist_matrix, axis=-1)[:, :, :4]
    density = np.exp(-(dist_nearest ** 2).mean(axis=-1))  # (no random noise: contract)
    density_mask = (density[:, None, :] > density[:, :, None]).astype(np.float64)
    dist_max = dist_matrix.reshape(frame_num, -1).max(axis=-1)[:, None, None]
    dist_0 = (dist_matrix * density_mask + dist_max * (1 - density_mask)).min(axis=-1)
    density_score = dist_0 * density  # [T, M]

    # DTM for Single-Frame Segment (frames whose anchor count is exactly `context`)
    for f in range(frame_num):
        if frm_context_num_list[f] != frame_context_num:
            continue
        sampled_indexs = topk_desc(density_score[f], frame_context_num)
        out, src = dtm(token_filtered[f, sampled_indexs],
                       alltoken_filtered_indices[f, sampled_indexs],
                       token_filtered[f], alltoken_filtered_indices[f], dtm_beta)
        final_tokens.extend(out)
        keep_indexs.extend(alltoken_filtered_indices[f, sampled_indexs])
        final_sources.extend(src)

    # DTM for Multi-Frame Segment
    idx_seg_start = 0
    for seg_i_len in segment_sizes:
        if seg_i_len > 1:
            seg = slice(idx_seg_start, idx_seg_start + seg_i_len)
            cur_seg_context_num_list = frm_context_num_list[seg]
            cur_seg_context_num = int(cur_seg_context_num_list[-1])
            cur_seg_target_mask = cur_seg_context_num_list > frame_context_num
            pool = token_filtered[seg].reshape(-1, dim)
            pool_idx = alltoken_filtered_indices[seg].reshape(-1)
            for f in np.nonzero(cur_seg_target_mask)[0] + idx_seg_start:
                assert cur_seg_context_num <= m, "dtm_p"
                sampled_indexs = topk_desc(density_score[f], cur_seg_context_num)
                out, src = dtm(token_filtered[f, sampled_indexs],
                               alltoken_filtered_indices[f, sampled_indexs],
                               pool, pool_idx, dtm_beta)
                final_tokens.extend(out)
                keep_indexs.extend(alltoken_filtered_indices[f, sampled_indexs])
                final_sources.extend(src)
        idx_seg_start += seg_i_len

    order = np.argsort(np.asarray(keep_indexs), kind="stable")  # torch.argsort(keep_indexs)
    out = np.stack(final_tokens)[order].astype(np.float32)
    return out, np.asarray(final_sources, dtype=np.int64)[order]


CASES = [
    # Official video defaults (fastvid_llavaonevision/scripts/eval.sh) need T >= dyseg_c.
    dict(name="defaults_t8", params=dict(), t=8, n=64, c=32, attention=True),
    dict(name="t4_n16", params=dict(retention_ratio=0.25, dyseg_c=2), t=4, n=16, c=8,
         attention=True),
    dict(name="t6_n49", params=dict(retention_ratio=0.25, dyseg_c=3, dyseg_tau=0.95), t=6,
         n=49, c=16, attention=True),
    dict(name="odd_t9", params=dict(retention_ratio=0.2, dyseg_c=2, dtm_p=2), t=9, n=36, c=16,
         attention=True),
    dict(name="dup_one_segment", params=dict(retention_ratio=0.25, dyseg_c=1, dyseg_tau=0.5),
         t=7, n=25, c=8, attention=True, layout="dup"),
    dict(name="dup_p3", params=dict(retention_ratio=0.3, dyseg_c=2, dyseg_tau=0.5, dtm_p=3,
                                    stprune_d=0.5, dtm_beta=0.3),
         t=8, n=16, c=8, attention=True, layout="dup"),
    dict(name="noise", params=dict(retention_ratio=0.3, dyseg_c=3), t=5, n=36, c=16,
         attention=True, layout="noise"),
    dict(name="p1_beta1", params=dict(retention_ratio=0.25, dyseg_c=2, dyseg_tau=0.0, dtm_p=1,
                                      dtm_beta=1.0), t=6, n=16, c=8, attention=True, layout="dup"),
    # One segment of 3 frames with p = 2 and one anchor per frame: cur = 3 // 2 = 1 = context,
    # so its anchor frames take the single-frame path and frame 1 keeps only salient tokens.
    dict(name="quirk_l3_p2", params=dict(retention_ratio=0.25, dyseg_c=1, dyseg_tau=0.5,
                                         dtm_p=2), t=3, n=16, c=8, attention=True, layout="dup"),
]
