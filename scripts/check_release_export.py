#!/usr/bin/env python3
"""Show that the official VideoChat-Flash code loads a release directory hico wrote, and
answers as `hico run --model DIR` does. Run by hand, never in CI.

    /opt/vcf-venv/bin/python scripts/check_release_export.py OFFICIAL_DIR \
        [--make random|trained | --release DIR] [--hico target/debug/hico]

OFFICIAL_DIR is a copy of the release's remote code (e.g. the `videochat_flash/` folder of
the mlvlab/BLiM repository; keep it outside this repository), environment as for
make_release_fixture.py (/opt/vcf-venv: transformers 4.40.1).

Without --release, the script first writes a tiny release-shaped pipeline config (224 px
UMT-style tower of width 32 with `hico_vision_tower`, ToMe to 16 per frame, MLP projector,
a Qwen2 decoder of width 64 with the fixtures' byte-level tokenizer, the model card's
uniform0_attention dropout) and has hico write the directory (bf16):
- `--make trained` (default): `hico train --make-synth`, then `hico train` of that pipeline
  on the synthetic colour videos for a few steps, then
  `hico release export --checkpoint RUN --out DIR` (the export of a hico-trained model);
- `--make random`: `hico release random` (random weights of those shapes).
With --release, it checks that directory instead.

Then:
1. the official classes (imported and patched as make_release_fixture.py does: tiny vision
   dims from `hico_vision_tower`, the non-flash vision attention, no cv2/imageio) load the
   directory with `from_pretrained`: no missing, unexpected or mis-shaped key, and the
   module's state dict holds exactly the keys of the file;
2. the official `chat()` (float32 on CPU; `.half()` on the pixels rounds to fp16 values as
   in make_release_fixture.py) answers QUESTION about the fixture video, greedy;
3. `hico run --model DIR` answers the same question (greedy, same token budget);
4. the generated ids and the answer text must be equal; the official raw logits of each
   step are printed with the margin between the two best tokens.
Exit status 0 only if everything matches.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from release_fixture_support import (  # noqa: E402
    TINY_VISION, half_rounds_no_cuda, import_official)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIXTURES = os.path.join(ROOT, "crates", "hico-model", "tests", "fixtures")
VIDEO = os.path.join(FIXTURES, "release_video.mp4")
TOKENIZER = os.path.join(FIXTURES, "release_224", "tokenizer.json")
QUESTION = "What is moving in the video?"
UMT_L = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, patch_size=16,
             mlp_ratio=4.0)

SHAPE = """name = "release-export-check"
seed = 3
[video]
size = 224
clip_len = 4
[sampler]
kind = "dynamic_fps"
[vision]
width = 32
depth = 4
heads = 2
patch_size = 16
output_blocks = 3
ln_eps = 1e-6
pos_grid = 14
[compressor]
kind = "tome"
tokens_per_frame = 16
[connector]
kind = "mlp2x_gelu"
[llm]
kind = "random"
hidden_size = 64
intermediate_size = 128
num_hidden_layers = 4
num_attention_heads = 4
num_key_value_heads = 2
rope_theta = 1000000.0
tie_word_embeddings = false
tokenizer = "{tokenizer}"
[dropout]
kind = "uniform0_attention"
layers = [1, 3]
ratios = [1.0, 0.75, 0.25]
"""


def run(cmd):
    print("$", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    return res.stdout


TRAIN = """name = "release-export-check"
pipeline = "{pipeline}"
seed = 0
epochs = 1
max_steps = {steps}
max_length = 4096
[lr]
encoder = 2e-3
connector = 2e-3
llm = 2e-3
[frames]
t_min = 8
t_max = 8
[data]
annotations = "{data}/train.json"
video_root = "{data}"
workers = 1
prefetch = 1
[checkpoint]
every = 1000
keep = 1
"""


def make_release(hico, work, how, steps):
    shape = os.path.join(work, "shape.toml")
    with open(shape, "w") as f:
        f.write(SHAPE.format(tokenizer=TOKENIZER))
    out = os.path.join(work, "release")
    if how == "random":
        run([hico, "release", "random", "--config", shape, "--out", out])
        return out
    data = os.path.join(work, "synth")
    run([hico, "train", "--make-synth", data])
    stage = os.path.join(work, "train.toml")
    with open(stage, "w") as f:
        f.write(TRAIN.format(pipeline=shape, data=data, steps=steps))
    run_dir = os.path.join(work, "train_run")
    print(run([hico, "train", "--config", stage, "--out", run_dir])[-600:])
    run([hico, "release", "export", "--checkpoint", run_dir, "--out", out])
    return out


def load_official(mods, release):
    from safetensors import safe_open

    with open(os.path.join(release, "config.json")) as f:
        config = json.load(f)
    TINY_VISION.clear()
    TINY_VISION.update(config.get("hico_vision_tower") or UMT_L)
    cls = mods["modeling_videochat_flash"].VideoChatFlashQwenForCausalLM
    model, info = cls.from_pretrained(release, torch_dtype=torch.float32,
                                      attn_implementation="sdpa", output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    file_keys = set()
    for name in os.listdir(release):
        if name.endswith(".safetensors"):
            with safe_open(os.path.join(release, name), "pt") as f:
                file_keys |= set(f.keys())
    model_keys = set(model.state_dict().keys())
    if model.config.tie_word_embeddings:
        model_keys.discard("lm_head.weight")
    print("loading info:", {k: len(v) for k, v in info.items()})
    print(f"tensors in the file: {len(file_keys)}, in the official module: {len(model_keys)}")
    if problems or file_keys != model_keys:
        print("MISMATCH", json.dumps(problems, default=str)[:2000])
        print("only in the file:", sorted(file_keys - model_keys)[:20])
        print("only in the module:", sorted(model_keys - file_keys)[:20])
        sys.exit(1)
    return model.eval(), config


def tokenizer_of(release):
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    if os.path.exists(os.path.join(release, "tokenizer_config.json")):
        return AutoTokenizer.from_pretrained(release)
    # hico writes tokenizer.json only (a release template adds the rest): the special
    # tokens a Qwen tokenizer_config.json declares.
    return PreTrainedTokenizerFast(tokenizer_file=os.path.join(release, "tokenizer.json"),
                                   eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   padding_side="right")


def official_answer(model, tok, max_new):
    rec = {"decode": []}

    def head_hook(m, i, o):
        if o.shape[1] > 1:
            rec["prefill_last"] = o[0, -1].detach().float().clone()
        else:
            rec["decode"].append(o[0, -1].detach().float().clone())

    h = model.lm_head.register_forward_hook(head_hook)
    # The visual rows each drop keeps: the kept rows are exact copies of the stage's input
    # rows, so match them; indices within the block the stage started from.
    inner = model.get_model()
    vlc = inner.video_level_compress
    rec["kept"] = []

    def compress(cur_num, rank_layer, features, position_ids, attention_mask, labels):
        out = vlc(cur_num=cur_num, rank_layer=rank_layer, features=features,
                  position_ids=position_ids, attention_mask=attention_mask, labels=labels)
        start = inner.first_image_token_position[0]
        n = inner.num_image_token_lens[0]
        n_cur = int(n * inner.llm_image_token_ratio_list[cur_num])
        keep = int(n * inner.llm_image_token_ratio_list[cur_num + 1])
        src = features[0, start:start + n_cur]
        dst = out[2][0, start:start + keep]
        eq = (dst[:, None, :] == src[None, :, :]).all(-1)
        assert (eq.sum(1) == 1).all(), "a kept row must match exactly one input row"
        rec["kept"].append((rank_layer, eq.float().argmax(1).tolist()))
        return out

    inner.video_level_compress = compress
    gen = model.generate

    def generate(*a, **k):
        out = gen(*a, **k)
        rec["ids"] = out[0].tolist()
        return out

    model.generate = generate
    try:
        with half_rounds_no_cuda(), torch.no_grad():
            text = model.chat(VIDEO, tok, QUESTION, chat_history=None, return_history=False,
                              max_num_frames=512, media_dict=None,
                              generation_config=dict(do_sample=False, num_beams=1,
                                                     max_new_tokens=max_new))
    finally:
        h.remove()
        del model.generate, inner.video_level_compress
    return text, rec


def hico_answer(hico, release, work, max_new):
    cfg = os.path.join(work, "greedy.toml")
    with open(cfg, "w") as f:
        f.write(f"[generation]\ntemperature = 0.0\nmax_new_tokens = {max_new}\n")
    out = run([hico, "run", "--model", release, "--config", cfg, "--video", VIDEO,
               "--question", QUESTION, "--out", os.path.join(work, "hico_run")])
    ids = re.search(r"answer token ids: \[([0-9, ]*)\]", out)
    if ids is None:
        sys.exit(f"no answer ids in hico's output:\n{out}")
    ids = [int(x) for x in ids.group(1).split(",") if x.strip()]
    with open(os.path.join(work, "hico_run", "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(work, "hico_run", "retention.json")) as f:
        retention = json.load(f)
    return ids, summary, retention


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("official", help="folder holding the release's remote code (*.py)")
    ap.add_argument("--release", help="a release directory hico wrote (default: make one)")
    ap.add_argument("--make", choices=["trained", "random"], default="trained",
                    help="how to make the directory when --release is absent")
    ap.add_argument("--train-steps", type=int, default=24)
    ap.add_argument("--hico", default=os.path.join(ROOT, "target", "debug", "hico"))
    ap.add_argument("--max-new-tokens", type=int, default=8)
    args = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(0)
    mods = import_official(args.official)
    with tempfile.TemporaryDirectory() as work:
        release = args.release or make_release(args.hico, work, args.make, args.train_steps)
        model, config = load_official(mods, release)
        print("official load: OK (no missing / unexpected / mis-shaped key; "
              "tokenizer_model_max_length =", config.get("tokenizer_model_max_length"), ")")
        tok = tokenizer_of(release)
        text, rec = official_answer(model, tok, args.max_new_tokens)
        ids, summary, retention = hico_answer(args.hico, release, work, args.max_new_tokens)
    stop = tok.convert_tokens_to_ids("<|im_end|>")
    official_ids = rec["ids"]
    # hico reports the stop token it generated, if any; the official ids include it too.
    print("official ids:", official_ids)
    print("hico ids:    ", ids)
    # token 1 comes from the prefill's last row, token k > 1 from decode step k - 1
    for k, logits in enumerate([rec["prefill_last"]] + rec["decode"]):
        if k >= len(official_ids):
            break
        top = logits.topk(2)
        print(f"  token {k + 1}: official raw argmax {int(top.indices[0])}, "
              f"margin to the runner-up {float(top.values[0] - top.values[1]):.3e}")
    hico_text = tok.decode([i for i in ids if i != stop], skip_special_tokens=True).strip()
    print("official answer:", repr(text))
    print("hico answer:    ", repr(hico_text), "(decoded here from hico's ids)")
    print("hico visual tokens per layer:", summary["counts"]["visual_per_layer"])
    # hico's retention trace holds original visual indices; map the official per-stage ones.
    prev = list(range(retention["n_visual"]))
    kept_ok = len(rec["kept"]) == len(retention["stages"])
    for (layer, idx), stage in zip(rec["kept"], retention["stages"]):
        want = [prev[i] for i in idx]
        same = stage["after_layer"] == layer and stage["kept"] == want
        print(f"kept after layer {layer}: official {len(want)}, hico {len(stage['kept'])}, "
              f"{'identical' if same else 'DIFFERENT'}")
        kept_ok &= same
        prev = want
    ok = official_ids == ids and text == hico_text and kept_ok
    print("RESULT:", "MATCH" if ok else "MISMATCH")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
