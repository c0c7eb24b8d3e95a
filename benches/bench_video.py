#!/usr/bin/env python3
"""Side-by-side video sampling benchmark: hico (Rust bench binary) vs decord vs PyAV.

Samples 16, 64 and 256 frames (segment middles, the same indices as hico's sampler) from a
2-minute 720p H.264 file made with the ffmpeg CLI, times open+decode for each loader
(median of 3), prints times, ratios to decord, and whether the frames agree:
- decord vs PyAV: exact equality of the full-resolution RGB frames;
- hico vs decord: hico returns 224x224 (swscale bicubic straight from YUV); decord's frame
  is resized with PIL bicubic and compared by mean absolute difference, and we check the
  hico frame is closer to decord's frame at the same index than at index +-1.

Usage: /opt/hico-venv/bin/python benches/bench_video.py [--video PATH] [--bench BIN]
(--bench defaults to building `cargo build -p hico-video --benches` and using its binary).
"""
import argparse, glob, json, os, subprocess, sys, tempfile, time

import numpy as np

def make_video(path):
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    subprocess.run(["ffmpeg", "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=1280x720:rate=30:duration=120", "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", path], check=True)

def middles(n, t):
    m = min(t, n)
    e = np.linspace(0, n, m + 1).astype(int)
    idx = [int((e[i] + e[i + 1] - 1) // 2) for i in range(m)]
    return idx + [idx[-1]] * (t - m)

def timed(fn, runs=3):
    out, ts = None, []
    for _ in range(runs):
        t0 = time.perf_counter(); out = fn(); ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2], out

def decord_read(path, idx):
    import decord
    vr = decord.VideoReader(path, ctx=decord.cpu(0))
    return vr.get_batch(idx).asnumpy()

def pyav_read(path, idx):
    """Sequential decode, keep wanted frames (PyAV's usual way for many targets)."""
    import av
    want, out = set(idx), {}
    with av.open(path) as c:
        s = c.streams.video[0]; s.thread_type = "AUTO"
        for k, f in enumerate(c.decode(s)):
            if k in want:
                out[k] = f.to_ndarray(format="rgb24")
            if k >= idx[-1]:
                break
    return np.stack([out[i] for i in idx])

def pyav_seek_read(path, idx):
    """Seek to each target's timestamp (backward keyframe), decode forward to it."""
    import av
    frames = []
    with av.open(path) as c:
        s = c.streams.video[0]; s.thread_type = "AUTO"
        fps = float(s.average_rate); tb = float(s.time_base)
        for i in idx:
            c.seek(int(round(i / fps / tb)), stream=s, backward=True)
            for f in c.decode(s):
                if int(round(f.pts * tb * fps)) >= i:
                    frames.append(f.to_ndarray(format="rgb24")); break
    return np.stack(frames)

def resize224(a):
    from PIL import Image
    return np.asarray(Image.fromarray(a).resize((224, 224), Image.BICUBIC))

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--video", default=os.path.join(tempfile.gettempdir(), "hico-bench", "bench_720p.mp4"))
    ap.add_argument("--bench", default=None)
    a = ap.parse_args()
    make_video(a.video)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if a.bench is None:
        subprocess.run(["cargo", "build", "-q", "-p", "hico-video", "--benches"], cwd=root, check=True)
        bins = [b for b in glob.glob(os.path.join(root, "target/debug/deps/sample-*")) if os.access(b, os.X_OK) and not b.endswith(".d")]
        a.bench = max(bins, key=os.path.getmtime)
    dump = tempfile.mkdtemp(prefix="hico-bench-")
    print(subprocess.run([a.bench, "--video", a.video, "--dump", dump], check=True, capture_output=True, text=True).stdout)
    ours = {m["frames"]: m for m in json.load(open(os.path.join(dump, "ours.json")))}
    try:
        import decord  # noqa: F401
        have_decord = True
    except ImportError:
        have_decord = False
        print("decord not installed (no wheel for this Python?): comparing with PyAV only")
    print(f"{'T':>4} {'hico_s':>8} {'decord_s':>9} {'pyav_seq_s':>10} {'pyav_seek_s':>11} "
          f"{'hico/decord':>11} {'pyav==decord':>12} {'hico_MAD':>8} {'hico_idx_ok':>11}")
    N = ours[16]["n_frames"]
    for t in (16, 64, 256):
        idx = ours[t]["indices"]
        assert idx == middles(N, t), "hico's indices differ from the reference rule"
        ref = None
        td = float("nan")
        if have_decord:
            td, ref = timed(lambda: decord_read(a.video, idx))
        tp, pv = timed(lambda: pyav_read(a.video, idx))
        tk, _ = timed(lambda: pyav_seek_read(a.video, idx), runs=1)
        if ref is None:
            ref = pv
        same = bool(np.array_equal(pv, ref))
        h = np.fromfile(os.path.join(dump, f"ours_{t}.rgb"), dtype=np.uint8).reshape(t, 224, 224, 3)
        nxt = decord_read(a.video, [min(i + 1, N - 1) for i in idx]) if have_decord else None
        mad, ok = [], 0
        for k, i in enumerate(idx):
            d = np.abs(h[k].astype(np.int16) - resize224(ref[k]).astype(np.int16)).mean()
            mad.append(d)
            if nxt is not None and i + 1 < N:
                dn = np.abs(h[k].astype(np.int16) - resize224(nxt[k]).astype(np.int16)).mean()
                ok += int(d < dn)
            else:
                ok += int(d < 8.0)
        th = ours[t]["seconds"]
        print(f"{t:>4} {th:>8.3f} {td:>9.3f} {tp:>10.3f} {tk:>11.3f} {th / td:>11.2f} "
              f"{str(same):>12} {max(mad):>8.2f} {ok:>5}/{t:<5}")

if __name__ == "__main__":
    sys.exit(main())
