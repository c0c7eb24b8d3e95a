//! The in-process writer (`encode_rgb`) against the `ffmpeg` CLI writer (`encode_rgb_cli`):
//! same frame count, frame rate and duration when read back, same decoded frames for
//! lossless H.264, keyframe interval honoured, no file left behind on failure, several
//! threads at once.

use std::path::Path;
use std::process::Command;

use hico_video::synth::{Codec, SynthSpec, encode_rgb, encode_rgb_cli, render_frame};
use hico_video::{FrameReader, decode_all};

const SIZE: usize = 32;

fn frames(n: usize) -> Vec<Vec<u8>> {
    let spec = SynthSpec::new(n, 10.0, SIZE);
    (0..n).map(|i| render_frame(&spec, i)).collect()
}

/// Indices (display order) of the key frames, from ffprobe's decoded frames.
fn keyframes(path: &Path) -> Vec<usize> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0"])
        .args(["-show_entries", "frame=key_frame", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .filter(|(_, l)| l.split(',').next() == Some("1"))
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn timing_reads_back_as_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let fr = frames(12);
    for codec in [Codec::H264, Codec::H264Lossless, Codec::Vp9, Codec::Mpeg4] {
        for fps in [1.0, 29.97, 25.0, 24000.0 / 1001.0, 7.3, 0.5] {
            let ext = codec.extension();
            let a = dir.path().join(format!("lib_{fps}.{ext}"));
            let b = dir.path().join(format!("cli_{fps}.{ext}"));
            encode_rgb(&a, (SIZE, SIZE), fps, codec, Some(5), fr.len(), |i| &fr[i]).unwrap();
            encode_rgb_cli(&b, (SIZE, SIZE), fps, codec, Some(5), fr.len(), |i| &fr[i]).unwrap();
            let ia = *FrameReader::open(&a).unwrap().info();
            let ib = *FrameReader::open(&b).unwrap().info();
            assert_eq!(ia, ib, "{codec:?} at {fps} fps");
            assert_eq!(ia.n_frames, 12, "{codec:?} at {fps} fps");
            assert!((ia.fps - fps).abs() < 1e-3 * fps, "{codec:?}: {ia:?}");
            assert_eq!(
                decode_all(&a, SIZE).unwrap().count,
                12,
                "{codec:?} at {fps} fps"
            );
        }
    }
}

#[test]
fn lossless_frames_decode_as_from_the_cli_and_close_to_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let fr = frames(20);
    let (a, b) = (dir.path().join("lib.mp4"), dir.path().join("cli.mp4"));
    let codec = Codec::H264Lossless;
    encode_rgb(&a, (SIZE, SIZE), 25.0, codec, None, fr.len(), |i| &fr[i]).unwrap();
    encode_rgb_cli(&b, (SIZE, SIZE), 25.0, codec, None, fr.len(), |i| &fr[i]).unwrap();
    let (da, db) = (decode_all(&a, SIZE).unwrap(), decode_all(&b, SIZE).unwrap());
    assert_eq!(da.count, 20);
    assert!(
        da == db,
        "in-process and CLI lossless files decode differently"
    );
    // 4:4:4 lossless: only the RGB <-> limited-range YCbCr rounding remains (≤ 3 here;
    // not byte-exact: 8-bit limited-range YCbCr cannot hold every RGB triple).
    for (k, want) in fr.iter().enumerate() {
        let worst = da
            .frame(k)
            .iter()
            .zip(want)
            .map(|(&g, &w)| g.abs_diff(w))
            .max()
            .unwrap();
        assert!(worst <= 3, "frame {k}: off by {worst}");
    }
}

#[test]
fn keyframe_interval_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let fr = frames(30);
    for (codec, gop) in [
        (Codec::H264Lossless, 5),
        (Codec::H264, 7),
        (Codec::Mpeg4, 4),
        (Codec::Vp9, 6),
    ] {
        let p = dir.path().join(format!("g{gop}.{}", codec.extension()));
        encode_rgb(&p, (SIZE, SIZE), 10.0, codec, Some(gop), 30, |i| &fr[i]).unwrap();
        let keys = keyframes(&p);
        assert_eq!(keys.first(), Some(&0), "{codec:?}: {keys:?}");
        let gaps_ok = keys
            .windows(2)
            .chain(std::iter::once(&[*keys.last().unwrap(), 30][..]))
            .all(|w| w[1] - w[0] <= gop);
        assert!(gaps_ok, "{codec:?} gop {gop}: key frames {keys:?}");
    }
    let p = dir.path().join("default.mp4");
    encode_rgb(&p, (SIZE, SIZE), 10.0, Codec::H264, None, 30, |i| &fr[i]).unwrap();
    assert!(keyframes(&p).len() < 30 / 7, "{:?}", keyframes(&p));
}

#[test]
fn failures_leave_no_file_and_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let fr = frames(4);
    let p = dir.path().join("short.mp4");
    let e = encode_rgb(&p, (SIZE, SIZE), 10.0, Codec::H264, None, 4, |i| {
        if i == 2 { &fr[i][..10] } else { &fr[i][..] }
    })
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("short.mp4") && e.contains("frame 2 has 10 bytes"),
        "{e}"
    );
    let odd = dir.path().join("odd.mp4");
    let e = encode_rgb(&odd, (31, 31), 10.0, Codec::H264, None, 1, |_| {
        vec![0u8; 3 * 31 * 31]
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("odd.mp4") && e.contains("libx264"), "{e}");
    let unknown = dir.path().join("x.notacontainer");
    let e = encode_rgb(&unknown, (SIZE, SIZE), 10.0, Codec::H264, None, 4, |i| {
        &fr[i]
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("x.notacontainer"), "{e}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    // an existing file at the path survives a failed rewrite untouched
    encode_rgb(&p, (SIZE, SIZE), 10.0, Codec::H264, None, 4, |i| &fr[i]).unwrap();
    let before = std::fs::read(&p).unwrap();
    assert!(
        encode_rgb(&p, (SIZE, SIZE), 10.0, Codec::H264, None, 4, |_| vec![
            0u8;
            3
        ])
        .is_err()
    );
    assert_eq!(std::fs::read(&p).unwrap(), before);
}

#[test]
fn many_threads_encode_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fr = frames(8);
    std::thread::scope(|s| {
        for t in 0..4 {
            let (dir, fr) = (dir.path(), &fr);
            s.spawn(move || {
                for k in 0..6 {
                    let codec = [Codec::H264Lossless, Codec::H264, Codec::Vp9][k % 3];
                    let p = dir.join(format!("t{t}_{k}.{}", codec.extension()));
                    encode_rgb(&p, (SIZE, SIZE), 4.0, codec, Some(4), 8, |i| &fr[i]).unwrap();
                }
            });
        }
    });
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(FrameReader::open(&p).unwrap().info().n_frames, 8, "{p:?}");
    }
}

/// x264's settings as it records them in the stream (its user-data SEI), minus threading.
fn x264_settings(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(11)
        .position(|w| w == b"x264 - core")
        .expect("x264 SEI");
    let end = bytes[at..].iter().position(|&b| b == 0).unwrap() + at;
    String::from_utf8_lossy(&bytes[at..end])
        .split_whitespace()
        .filter(|t| !t.contains("threads="))
        .map(str::to_string)
        .collect()
}

#[test]
fn x264_runs_with_the_cli_settings() {
    let dir = tempfile::tempdir().unwrap();
    let fr = frames(10);
    for (codec, gop) in [(Codec::H264, Some(5)), (Codec::H264Lossless, None)] {
        let (a, b) = (dir.path().join("a.mp4"), dir.path().join("b.mp4"));
        encode_rgb(&a, (SIZE, SIZE), 25.0, codec, gop, 10, |i| &fr[i]).unwrap();
        encode_rgb_cli(&b, (SIZE, SIZE), 25.0, codec, gop, 10, |i| &fr[i]).unwrap();
        let (sa, sb) = (x264_settings(&a), x264_settings(&b));
        // (x264 prints open_gop only with B-frames)
        let closed = sa.iter().any(|t| t == "open_gop=0");
        assert!(closed || codec == Codec::H264Lossless, "{codec:?}: {sa:?}");
        assert_eq!(sa, sb, "{codec:?}");
    }
}
