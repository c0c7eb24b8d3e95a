#!/usr/bin/env python3
"""Make tiny VideoChat-Flash *release-format* checkpoints and the official code's outputs
(crates/hico-model/tests/fixtures/release_{224,448}/). Run by hand, never in CI.

The official code is the HF release's remote code (modeling_videochat_flash.py, mm_utils.py,
vision_tower_builder.py, mm_projector_builder.py, modeling_qwen2_flash.py, conversation.py,
constants.py) as a folder on disk; it is NOT in this repository and must never be
committed. One public copy is the `videochat_flash/` folder of github.com/mlvlab/BLiM.

Environment: the remote code needs the transformers of its model card (4.40.1: DynamicCache
`seen_tokens`, `_prepare_4d_causal_attention_mask_for_sdpa`), so it runs in a second venv
that reuses /opt/hico-venv's torch:

    /opt/hico-venv/bin/python -m venv /opt/vcf-venv
    /opt/vcf-venv/bin/pip install "transformers==4.40.1" decord av
    echo /opt/hico-venv/lib/python3.11/site-packages \
        > /opt/vcf-venv/lib/python3.11/site-packages/zz_hico_venv.pth

Usage:

    /opt/vcf-venv/bin/python scripts/make_release_fixture.py /path/to/videochat_flash

Helpers (import and patching of the official code, tokenizer) live in
release_fixture_support.py next to this file.

What it does, per fixture (224 px "umt-large", 448 px "umt-hd-large" with mm_llm_compress):
1. imports the official package; stubs only what it imports but the fixture does not use
   (cv2, imageio; decord falls back to a PyAV reader if absent). Three patches, all outside
   the math: build_vit/UMTVisionConfig take the tiny dims from config.json's
   `hico_vision_tower` (the release hard-codes UMT-L), the vision attention runs the code's
   own 'origin' path instead of flash_attn (same math), and `umt-large` builds the 224 tower
   (the vendored builder only has the 448 branch; the training builder has both).
2. builds VideoChatFlashQwenForCausalLM with tiny dims, re-randomises EVERY parameter
   (norms, biases, q_bias/v_bias included), saves it with save_pretrained in bf16 plus a
   byte-level tokenizer identical to hico's `HicoTokenizer::byte_level()`.
3. reloads that directory with from_pretrained in float32 (bf16 values upcast, so Rust
   loading the bf16 file sees the same numbers) and runs the official `chat()` on
   release_video.mp4 with `.cuda()` a no-op and `.half()` (applied to the pixel values only)
   rounding to float16 values kept in a float32 tensor, recording every stage through
   wrappers and hooks into expected.safetensors + expected.json.
"""
import argparse
import importlib
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from release_fixture_support import (  # noqa: E402
    TINY_VISION, import_official, make_tokenizer, half_rounds_no_cuda,
    reader_name, visual_scores)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "crates", "hico-model", "tests", "fixtures")
VIDEO = os.path.join(FIXTURES, "release_video.mp4")
QUESTION = "What is moving in the video?"
PIXEL_STRIDE = 7  # spatial stride of the stored pixel subset
MAX_NEW_TOKENS = 12


FIXTURE_SPECS = {
    "release_224": dict(
        mm_vision_tower="umt-large",
        tie_word_embeddings=False,
        mm_llm_compress=False,
        llm_compress_type="attention",
        llm_compress_layer_list=[],
        llm_image_token_ratio_list=[1.0, 0.5, 0.25, 0.125],
        rope_scaling=None,
        seed=224,
    ),
    "release_448": dict(
        mm_vision_tower="umt-hd-large",
        tie_word_embeddings=True,
        mm_llm_compress=True,
        llm_compress_type="uniform0_attention",
        llm_compress_layer_list=[1, 3],
        llm_image_token_ratio_list=[1, 0.75, 0.25],
        # Present in the file to show it is ignored: modeling_qwen2_flash.py never reads it.
        rope_scaling={"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768},
        seed=448,
    ),
}


# --------------------------------------------------------------------------- model
def make_config(mods, spec):
    cfg = mods["modeling_videochat_flash"].VideoChatFlashQwenConfig(
        vocab_size=259, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=32768,
        rope_theta=1000000.0, rms_norm_eps=1e-6, hidden_act="silu",
        tie_word_embeddings=spec["tie_word_embeddings"], use_sliding_window=False,
        sliding_window=32768, max_window_layers=4, bos_token_id=256, eos_token_id=258,
        attention_dropout=0.0, rope_scaling=spec["rope_scaling"],
        architectures=["VideoChatFlashQwenForCausalLM"],
        # multimodal keys, as the release's config.json writes them
        mm_vision_tower=spec["mm_vision_tower"], mm_vision_select_layer=-2,
        mm_vision_select_feature="patch", mm_hidden_size=32, mm_projector_type="tome16_mlp_hd64",
        mm_local_num_frames=4, mm_pos_num_frames=8, mm_patch_merge_type="spatial_nopad",
        mm_newline_position="nothing", vision_encode_type="video_image",
        frame_aspect_ratio="square", image_aspect_ratio="anyres_nopad",
        image_grid_pinpoints=[[448, 448]], mm_use_im_start_end=False,
        mm_use_im_patch_token=False, mm_tunable_parts="mm_vision_tower,mm_mlp_adapter,mm_language_model",
        mm_llm_compress=spec["mm_llm_compress"], llm_compress_type=spec["llm_compress_type"],
        llm_compress_layer_list=spec["llm_compress_layer_list"],
        llm_image_token_ratio_list=spec["llm_image_token_ratio_list"],
        tokenizer_padding_side="right", tokenizer_model_max_length=32768, use_mm_proj=True,
        hico_vision_tower=dict(TINY_VISION),
        auto_map={"AutoConfig": "modeling_videochat_flash.VideoChatFlashQwenConfig",
                  "AutoModel": "modeling_videochat_flash.VideoChatFlashQwenForCausalLM"},
    )
    cfg._attn_implementation = "sdpa"
    return cfg


@torch.no_grad()
def randomise(model, seed):
    """New values for every parameter, by role, so that no key can hide behind a default."""
    g = torch.Generator().manual_seed(seed)
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        if name == "model.norm.weight":
            # mixed signs: with a tied head, h·diag(w)·e_tok stays centred, so the answer is
            # not the input token echoed (which makes every greedy step the same)
            v = torch.randn(p.shape, generator=g)
        elif p.ndim == 1 and ("norm" in name or "layernorm" in name) and leaf == "weight":
            v = 1.0 + 0.2 * torch.randn(p.shape, generator=g)
        elif p.ndim == 1:  # biases, q_bias / v_bias, newline vectors
            v = 0.2 * torch.randn(p.shape, generator=g)
        elif "embed_tokens" in name:
            # small next to the layers' outputs, or a tied head just echoes the input token
            v = 0.5 * torch.randn(p.shape, generator=g)
        else:  # linear / conv weights: fan-in scaled
            fan_in = p[0].numel()
            v = torch.randn(p.shape, generator=g) / fan_in ** 0.5
        p.copy_(v)


# --------------------------------------------------------------------------- recording
def wrap(module, attr, record, key, result_fn=None, args_fn=None, undo=None):
    """Replace module.attr by a wrapper that records its first result (and arguments)."""
    orig = getattr(module, attr)
    undo.append(lambda: setattr(module, attr, orig))

    def wrapper(*a, **k):
        out = orig(*a, **k)
        if args_fn is not None:
            record.setdefault(key + "_args", args_fn(a, k))
        record.setdefault(key, result_fn(out) if result_fn else out)
        return out

    setattr(module, attr, wrapper)


def run_official(mods, model, tok, spec):
    mu = mods["mm_utils"]
    mvf = mods["modeling_videochat_flash"]
    rec, undo = {}, []
    # sampled indices, raw RGB frames, fps, duration (wrapping the reader table entry and the
    # sampler the reader calls, both module globals looked up at call time)
    wrap(mu, "get_frame_indices", rec, "frame_indices", lambda o: [int(i) for i in o],
         undo=undo)
    readers = mu.VIDEO_READER_FUNCS
    undo.append(lambda: setattr(mu, "VIDEO_READER_FUNCS", readers))
    mu.VIDEO_READER_FUNCS = dict(readers)
    reader = mu.VIDEO_READER_FUNCS["decord"]

    def read(*a, **k):
        out = reader(*a, **k)
        rec["reader"] = out
        return out

    mu.VIDEO_READER_FUNCS["decord"] = read
    wrap(mvf, "load_video", rec, "load_video", undo=undo)
    wrap(mvf, "tokenizer_image_token", rec, "input_ids", lambda o: o.tolist(),
         lambda a, k: a[0], undo=undo)
    proc = model.get_vision_tower().image_processor
    wrap(proc, "preprocess", rec, "pixels", lambda o: o["pixel_values"].clone(), undo=undo)
    hooks = []
    def vision_hook(m, i, o):
        rec.setdefault("tower_input", i[0].detach().clone())  # [clips, 4, 3, S, S]
        rec.setdefault("vision_out", o.detach().clone())
    hooks.append(model.get_vision_tower().register_forward_hook(vision_hook))
    proj = model.get_model().mm_projector
    def proj_hook(m, i, o):  # a forward hook must return None (else it replaces the output)
        rec.setdefault("tome_out", i[0].detach().clone())
        rec.setdefault("projector_out", o.detach().clone())
    hooks.append(proj.mlp.register_forward_hook(proj_hook))
    inner = model.get_model()

    def pre(m, a, k):
        e = k.get("inputs_embeds")
        if e is not None and e.shape[1] > 1:
            rec.setdefault("inputs_embeds", e.detach().clone())
    hooks.append(inner.register_forward_pre_hook(pre, with_kwargs=True))
    def head_hook(m, i, o):
        if o.shape[1] > 1:
            rec.setdefault("prefill_logits", o.detach().float().clone())
        else:  # one decode step (raw logits, before any logits processor)
            rec.setdefault("decode_logits", []).append(o[0, -1].detach().float().clone())
    hooks.append(model.lm_head.register_forward_hook(head_hook))
    kept = []
    vlc = inner.video_level_compress

    def compress(cur_num, rank_layer, features, position_ids, attention_mask, labels):
        out = vlc(cur_num=cur_num, rank_layer=rank_layer, features=features,
                  position_ids=position_ids, attention_mask=attention_mask, labels=labels)
        start = inner.first_image_token_position[0]
        n_cur = int(inner.num_image_token_lens[0] * inner.llm_image_token_ratio_list[cur_num])
        keep = int(inner.num_image_token_lens[0] * inner.llm_image_token_ratio_list[cur_num + 1])
        src = features[0, start:start + n_cur]
        dst = out[2][0, start:start + keep]
        # kept rows are exact copies: find each one's index in the current visual block
        eq = (dst[:, None, :] == src[None, :, :]).all(-1)
        assert (eq.sum(1) == 1).all(), "kept rows must match exactly one source row"
        idx = eq.float().argmax(1).tolist()
        assert idx == sorted(idx)
        assert torch.equal(out[2][0, :start], features[0, :start])
        assert torch.equal(out[2][0, start + keep:], features[0, start + n_cur:])
        scores = None
        if "attention" in inner.llm_compress_type and not (
                inner.llm_compress_type == "uniform0_attention" and cur_num == 0):
            scores = visual_scores(mods, inner, rank_layer, features, position_ids, start, n_cur)
            top = set(scores.topk(keep).indices.tolist())
            assert top == set(idx), "recomputed scores must pick the same tokens"
            srt = scores.sort(descending=True).values
            gap = float(srt[keep - 1] - srt[keep]) if keep < n_cur else None
            rec[f"scores_layer{rank_layer}"] = scores
        seq_after = int(out[2].shape[1])
        assert out[0] is not None and out[0][0].tolist() == list(range(seq_after))
        kept.append(dict(layer=rank_layer, stage=cur_num, n_before=n_cur, kept=idx,
                         seq_len_after=seq_after, position_ids_after="0..seq_len_after-1",
                         score_gap_at_cut=None if scores is None else gap))
        return out

    inner.video_level_compress = compress
    gen = model.generate

    def generate(*a, **k):
        out = gen(*a, **k)
        rec.setdefault("output_ids", out[0].tolist())
        return out
    model.generate = generate

    gen_cfg = dict(do_sample=False, num_beams=1, max_new_tokens=MAX_NEW_TOKENS)
    try:
        with half_rounds_no_cuda():
            text, history = model.chat(VIDEO, tok, QUESTION, chat_history=None,
                                       return_history=True, max_num_frames=512,
                                       media_dict=None, generation_config=gen_cfg)
    finally:
        for h in hooks:
            h.remove()
        for u in undo:
            u()
        del inner.video_level_compress, model.generate
    rec["kept"] = kept
    rec["answer"] = text
    rec["history"] = history
    rec["generation_kwargs"] = gen_cfg
    return rec


# --------------------------------------------------------------------------- main
def build_fixture(mods, tok, name, spec):
    from safetensors.torch import save_file

    out_dir = os.path.join(FIXTURES, name)
    os.makedirs(out_dir, exist_ok=True)
    size = 448 if "umt-hd" in spec["mm_vision_tower"] else 224
    TINY_VISION.clear()
    TINY_VISION.update(hidden_size=32, num_hidden_layers=4, num_attention_heads=2,
                       patch_size=16, mlp_ratio=4.0)
    cls = mods["modeling_videochat_flash"].VideoChatFlashQwenForCausalLM
    cfg = make_config(mods, spec)
    torch.manual_seed(spec["seed"])
    model = cls(cfg)
    randomise(model, spec["seed"])
    model.to(torch.bfloat16).save_pretrained(out_dir, safe_serialization=True)
    gen = {"bos_token_id": 256, "pad_token_id": 256, "eos_token_id": [258, 256],
           "do_sample": True, "temperature": 0.7, "top_p": 0.8, "top_k": 20,
           "repetition_penalty": 1.05, "transformers_version": "4.40.1"}
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
    tok.save_pretrained(out_dir)
    for extra in ["special_tokens_map.json"]:
        p = os.path.join(out_dir, extra)
        if os.path.exists(p):
            os.remove(p)

    model, info = cls.from_pretrained(out_dir, torch_dtype=torch.float32,
                                      attn_implementation="sdpa", output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"], info
    model.eval()
    from transformers import AutoTokenizer
    tok2 = AutoTokenizer.from_pretrained(out_dir)
    rec = run_official(mods, model, tok2, spec)

    frames, indices, fps, duration = rec["reader"]
    indices = [int(i) for i in indices]
    assert indices == rec["frame_indices"]
    t = len(indices)
    pix = rec["pixels"]
    tower_in = rec["tower_input"].reshape(pix.shape)
    # chat()'s .half(): the tower sees the processor's f32 pixels rounded to float16
    assert torch.equal(tower_in, pix.half().float()), "tower input is not the fp16 pixels"
    assert not torch.equal(tower_in, pix)
    sub_frames = [0, t // 2, t - 1]
    shared = os.path.join(FIXTURES, "release_video_frames.safetensors")
    frames_t = torch.from_numpy(np.ascontiguousarray(frames))
    if os.path.exists(shared):  # same video, same sampler: the frames must agree
        from safetensors.torch import load_file
        old = load_file(shared)
        assert torch.equal(old["frames_rgb"], frames_t), "decoded frames differ between runs"
    save_file({"frames_rgb": frames_t, "frame_indices": torch.tensor(indices)}, shared)
    tensors = {
        "frame_indices": torch.tensor(indices, dtype=torch.int64),
        "pixel_values_subset": pix[sub_frames][:, :, ::PIXEL_STRIDE, ::PIXEL_STRIDE].contiguous(),
        "tower_input_subset":
            tower_in[sub_frames][:, :, ::PIXEL_STRIDE, ::PIXEL_STRIDE].contiguous(),
        "vision_out_first_clip": rec["vision_out"][0].contiguous(),
        "tome_out": rec["tome_out"].contiguous(),
        "projector_out": rec["projector_out"].contiguous(),
        "input_ids": torch.tensor(rec["input_ids"], dtype=torch.int64),
        "inputs_embeds": rec["inputs_embeds"][0].contiguous(),
        "prefill_logits_last": rec["prefill_logits"][0, -1].contiguous(),
        "prefill_logits_strided": rec["prefill_logits"][0, ::16].contiguous(),
        "output_ids": torch.tensor(rec["output_ids"], dtype=torch.int64),
        "decode_logits": torch.stack(rec["decode_logits"]),
    }
    if size == 224:  # 448's clips are 4x larger: the first clip only
        tensors["vision_out_last_clip"] = rec["vision_out"][-1].contiguous()
    for k in rec["kept"]:
        tensors[f"kept_layer{k['layer']}"] = torch.tensor(k["kept"], dtype=torch.int64)
        if f"scores_layer{k['layer']}" in rec:
            tensors[f"scores_layer{k['layer']}"] = rec[f"scores_layer{k['layer']}"]
    save_file(tensors, os.path.join(out_dir, "expected.safetensors"))
    _, time_msg = rec["load_video"]
    meta = {
        "video": "../release_video.mp4",
        "frames_rgb": "../release_video_frames.safetensors (frames_rgb [T, H, W, 3] u8 at frame_indices)",
        "question": QUESTION,
        "image_size": size,
        "reader": reader_name(),
        "fps": fps,
        "duration": duration,
        "frame_indices": indices,
        "time_msg": time_msg,
        "prompt": rec["input_ids_args"],
        "input_ids": rec["input_ids"],
        "image_token_position": rec["input_ids"].index(-200),
        "pixel_values_subset": {"frames": sub_frames, "stride": PIXEL_STRIDE,
                                "full_shape": list(pix.shape)},
        "tower_input": "chat() casts the pixel values with .half(): float16 values (run in "
                       "float32), tower_input_subset = the same subset after the cast",
        "vision_out_shape": list(rec["vision_out"].shape),
        "prefill_logits_shape": list(rec["prefill_logits"].shape[1:]),
        "prefill_logits_strided_rows": "rows 0, 16, 32, ... of the prefill logits",
        "kept": rec["kept"],
        "generation_kwargs": rec["generation_kwargs"],
        "generation_config_json_loaded": {k: getattr(model.generation_config, k) for k in [
            "do_sample", "num_beams", "max_new_tokens", "repetition_penalty", "eos_token_id",
            "pad_token_id", "temperature", "top_p", "top_k"]},
        "output_ids": rec["output_ids"],
        "answer": rec["answer"],
        "versions": {"torch": torch.__version__,
                     "transformers": importlib.import_module("transformers").__version__},
    }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(name, {k: tuple(v.shape) for k, v in tensors.items()})
    print(name, "answer:", repr(rec["answer"]), "kept:", [(k["layer"], len(k["kept"])) for k in rec["kept"]])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("official", help="folder holding the release's remote code (*.py)")
    ap.add_argument("--only", choices=sorted(FIXTURE_SPECS), help="make one fixture")
    args = ap.parse_args()
    if not os.path.exists(VIDEO):
        sys.exit(f"{VIDEO} missing: ffmpeg -f lavfi -i testsrc2=size=96x64:rate=5:duration=20 "
                 "-c:v libx264 -pix_fmt yuv420p -g 10 -bf 0 -crf 28 -preset slow -an " + VIDEO)
    torch.set_num_threads(2)
    mods = import_official(args.official)
    tok = make_tokenizer()
    for name, spec in FIXTURE_SPECS.items():
        if args.only in (None, name):
            build_fixture(mods, tok, name, spec)


if __name__ == "__main__":
    main()
