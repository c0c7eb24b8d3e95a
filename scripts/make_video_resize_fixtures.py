#!/usr/bin/env python3
"""Make crates/hico-video/tests/fixtures/video/: small encoded videos and what the released
VideoChat-Flash preprocessing makes of their frames, for hico's end-to-end test of
`[video] resize = "pil_bicubic"` (crates/hico-video/tests/pil_resize.rs).

The release decodes with decord (FFmpeg: decode, then a libavfilter `scale` at the frame's
own size with output format rgb24) and resizes with Pillow's BICUBIC. Here the RGB frames
come from the ffmpeg CLI (`-f rawvideo -pix_fmt rgb24`, whose automatic scale filter does
the same conversion) and are resized with Pillow. For each video and frame the manifest
records the SHA-256 of the full-size RGB frame and of its Pillow resize to each size, and
whether the conversion depends on the swscale interpolation flags (bicubic, the CLI's and
FFmpeg 5's default, vs bilinear).

Videos (testsrc2, H.264): 160x90 (16:9) yuv420p untagged; 96x96 yuv420p tagged BT.709;
176x144 full-range yuvj420p; 120x68 yuv444p (the 4:4:4 kind hico-eval's benchmark videos
use); 90x160 portrait yuv420p (where Pillow 13's pass order differs).

Run under Pillow 11 (the release's era; the committed manifest comes from Pillow 11.3.0):
PYTHON scripts/make_video_resize_fixtures.py   (needs the ffmpeg CLI, Pillow < 13, numpy)
"""
import hashlib
import json
import os
import subprocess

import numpy as np
import PIL
from PIL import Image

DIR = os.path.join(os.path.dirname(__file__), "..", "crates", "hico-video", "tests", "fixtures",
                   "video")
FRAMES = 10
PICK = [0, 4, 9]
SIZES = [64, 224]

VIDEOS = [
    ("wide_420.mp4", 160, 90, ["-pix_fmt", "yuv420p"]),
    ("square_bt709.mp4", 96, 96, ["-pix_fmt", "yuv420p", "-colorspace", "bt709",
                                  "-color_primaries", "bt709", "-color_trc", "bt709"]),
    ("full_range.mp4", 176, 144, ["-pix_fmt", "yuvj420p", "-color_range", "pc"]),
    ("yuv444.mp4", 120, 68, ["-pix_fmt", "yuv444p"]),
    ("portrait.mp4", 90, 160, ["-pix_fmt", "yuv420p"]),
]


def run(args):
    return subprocess.run(["ffmpeg", "-y", "-loglevel", "error", *args], check=True,
                          capture_output=True).stdout


def rgb_frames(path, w, h, extra=()):
    raw = run(["-i", path, *extra, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
    assert len(raw) == FRAMES * w * h * 3, (path, len(raw))
    return np.frombuffer(raw, np.uint8).reshape(FRAMES, h, w, 3)


def main():
    assert int(PIL.__version__.split(".")[0]) < 13, "run under Pillow < 13 (the release's)"
    os.makedirs(DIR, exist_ok=True)
    videos = []
    for name, w, h, opts in VIDEOS:
        path = os.path.join(DIR, name)
        run(["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate=25", "-frames:v", str(FRAMES),
             "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-g", "5", "-threads", "1",
             *opts, "-map_metadata", "-1", "-fflags", "+bitexact", path])
        rgb = rgb_frames(path, w, h)
        bilinear = rgb_frames(path, w, h, ["-sws_flags", "bilinear"])
        frames = []
        for i in PICK:
            img = Image.fromarray(rgb[i])
            frames.append({
                "index": i,
                "rgb_sha256": hashlib.sha256(rgb[i].tobytes()).hexdigest(),
                "resized_sha256": {
                    str(s): hashlib.sha256(np.asarray(img.resize((s, s), Image.BICUBIC))
                                           .tobytes()).hexdigest() for s in SIZES},
            })
        videos.append({"file": name, "width": w, "height": h, "frames": FRAMES,
                       "flags_matter": bool((rgb != bilinear).any()), "picks": frames})
        print(name, os.path.getsize(path), "bytes; bilinear differs:", videos[-1]["flags_matter"])
    with open(os.path.join(DIR, "manifest.json"), "w") as f:
        json.dump({"pillow": PIL.__version__, "sizes": SIZES, "videos": videos}, f, indent=1)


if __name__ == "__main__":
    main()
