"""Helpers of make_release_fixture.py: load the official remote code from a folder (with
the three patches that let it build tiny dims on a CPU), the byte-level tokenizer, and the
score recomputation. See make_release_fixture.py for what and why; run nothing here."""
import contextlib
import importlib
import importlib.machinery
import os
import sys
import types

import numpy as np
import torch

# The tiny dims of the vision tower, read by the patched builders (set per fixture).
TINY_VISION = {}


def stub_missing(name, attrs=None):
    try:
        importlib.import_module(name)
    except ImportError:
        mod = types.ModuleType(name)
        mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
        for k, v in (attrs or {}).items():
            setattr(mod, k, v)
        sys.modules[name] = mod
        print(f"stubbed missing module {name}")


class PyAvVideoReader:
    """decord.VideoReader stand-in (only if decord is absent): all frames decoded to RGB24."""

    def __init__(self, path, num_threads=1):
        import av

        with av.open(path) as c:
            s = c.streams.video[0]
            self.fps = float(s.average_rate)
            self.frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]

    def __len__(self):
        return len(self.frames)

    def get_avg_fps(self):
        return self.fps

    def get_batch(self, idx):
        arr = np.stack([self.frames[i] for i in idx])
        return types.SimpleNamespace(asnumpy=lambda: arr)

    def seek(self, _):
        pass


def reader_name():
    dec = sys.modules["decord"]
    if dec.VideoReader is PyAvVideoReader:
        return "pyav fallback (decord absent)"
    return "decord " + getattr(dec, "__version__", "?")


def import_official(folder):
    importlib.import_module("transformers")  # before the stubs: it probes optional modules
    stub_missing("cv2")
    stub_missing("imageio")
    stub_missing("decord", {"VideoReader": PyAvVideoReader})
    pkg = types.ModuleType("vcf_official")
    pkg.__path__ = [os.path.abspath(folder)]
    sys.modules["vcf_official"] = pkg
    mods = {}
    for m in ["constants", "conversation", "mm_utils", "vision_tower_builder",
              "mm_projector_builder", "modeling_qwen2_flash", "modeling_videochat_flash"]:
        mods[m] = importlib.import_module(f"vcf_official.{m}")
    patch_vision(mods)
    return mods


def patch_vision(mods):
    vtb = mods["vision_tower_builder"]
    mvf = mods["modeling_videochat_flash"]
    base_cfg = vtb.UMTVisionConfig

    class TinyUMTVisionConfig(base_cfg):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.hidden_size = TINY_VISION["hidden_size"]
            self.num_hidden_layers = TINY_VISION["num_hidden_layers"]
            self.num_attention_heads = TINY_VISION["num_attention_heads"]
            self.patch_size = TINY_VISION["patch_size"]

    def tiny_build_vit(config, pt_type="origin"):
        # build_vit with the release's arguments, dims from the config instead of UMT-L's.
        model = vtb.PretrainVisionTransformer(
            img_size=config.image_size,
            patch_size=config.patch_size,
            encoder_embed_dim=config.hidden_size,
            encoder_depth=config.num_hidden_layers,
            encoder_num_heads=config.num_attention_heads,
            mlp_ratio=TINY_VISION["mlp_ratio"],
            drop_path_rate=0.0,
            num_frames=config.num_frames,
            tubelet_size=1,
            use_checkpoint=False,
            checkpoint_num=24,
            return_index=config.return_idx,
            with_ln=True,
        )
        for blk in model.encoder.blocks:  # flash_attn_qkvpacked_func → the 'origin' branch
            blk.attn.attn_type = "origin"
            blk.attn.attn_drop = torch.nn.Dropout(0.0)
        return model

    def build_vision_tower(cfg, **kw):
        name = getattr(cfg, "mm_vision_tower", getattr(cfg, "vision_tower", None))
        if "umt-hd" in name:
            return vtb.UMTVisionTower(name, vision_tower_cfg=cfg, image_size=448, **kw)
        if "umt" in name:
            return vtb.UMTVisionTower(name, vision_tower_cfg=cfg, image_size=224, **kw)
        raise ValueError(name)

    vtb.UMTVisionConfig = TinyUMTVisionConfig
    vtb.build_vit = tiny_build_vit
    mvf.build_vision_tower = build_vision_tower


SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def byte_char(b):
    def printable(x):
        return 0x21 <= x <= 0x7E or 0xA1 <= x <= 0xAC or 0xAE <= x <= 0xFF

    if printable(b):
        return chr(b)
    return chr(256 + sum(1 for x in range(b) if not printable(x)))


def make_tokenizer():
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {byte_char(b): b for b in range(256)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True) for t in SPECIALS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        model_max_length=32768, padding_side="right")
    text = "<|im_start|>user\nhé 🎬<|im_end|>"
    want = [257] + list("user\nhé 🎬".encode()) + [258]
    got = fast(text).input_ids
    assert got == want, (got, want)
    assert fast.decode(got) == text
    assert [fast.convert_tokens_to_ids(t) for t in SPECIALS] == [256, 257, 258]
    assert len(fast) == 259
    return fast


@contextlib.contextmanager
def half_rounds_no_cuda():
    """`.cuda()` a no-op; `.half()` (chat() calls it on the pixel values only) rounds to
    float16 and keeps the float32 dtype, so the f32 model sees the fp16 pixels' values."""
    half, cuda = torch.Tensor.half, torch.Tensor.cuda
    torch.Tensor.half = lambda self, *a, **k: half(self).to(self.dtype)
    torch.Tensor.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.half, torch.Tensor.cuda = half, cuda


def visual_scores(mods, inner, rank_layer, h, position_ids, start, n_cur):
    """The attention score of each current visual token (mean over heads of the last prompt
    token's softmax row), recomputed the way video_level_compress does, to store it."""
    q2 = mods["modeling_qwen2_flash"]
    layer = inner.layers[rank_layer]
    att = layer.self_attn
    x = layer.input_layernorm(h)
    b, n, _ = x.shape
    q = att.q_proj(x).view(b, n, att.num_heads, att.head_dim).transpose(1, 2)
    k = att.k_proj(x).view(b, n, att.num_key_value_heads, att.head_dim).transpose(1, 2)
    cos, sin = att.rotary_emb(k, seq_len=n)
    pos = position_ids if position_ids is not None else torch.arange(n)[None]
    q, k = q2.apply_rotary_pos_emb(q, k, cos, sin, pos)
    k = q2.repeat_kv(k, att.num_key_value_groups)
    w = (q[0, :, -1:] @ k[0].transpose(1, 2)) / att.head_dim ** 0.5  # last row: no mask needed
    w = torch.softmax(w, dim=-1, dtype=torch.float32)
    return w.mean(0)[0, start:start + n_cur].detach().clone()
