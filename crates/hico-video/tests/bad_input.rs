//! Bad input: every case is a `VideoError` whose message names the file and says what is
//! wrong; nothing panics; the batch helper skips and counts bad files.

mod common;

use std::path::Path;

use hico_video::synth::Codec;
use hico_video::{FrameReader, VideoError, probe, probe_many};

/// Probe `path`, expect an error mentioning the file and `what`, and return it.
fn expect_err(path: &Path, what: &str) -> VideoError {
    let err = probe(path).expect_err("bad input must not probe");
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message must name the file: {msg}"
    );
    assert!(msg.contains(what), "message should say `{what}`: {msg}");
    assert!(FrameReader::open(path).is_err());
    err
}

#[test]
fn missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let e = expect_err(&dir.path().join("nope.mp4"), "no such file");
    assert!(matches!(e, VideoError::Missing { .. }));
}

#[test]
fn directory() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        expect_err(dir.path(), "directory"),
        VideoError::Directory { .. }
    ));
}

#[test]
fn zero_length_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.mp4");
    std::fs::write(&p, b"").unwrap();
    assert!(matches!(expect_err(&p, "empty"), VideoError::Empty { .. }));
}

#[test]
fn audio_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audio.m4a");
    common::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=duration=1",
        "-c:a",
        "aac",
        p.to_str().unwrap(),
    ]);
    let e = expect_err(&p, "no video stream (streams: audio)");
    assert!(matches!(e, VideoError::NoVideoStream { .. }));
}

#[test]
fn corrupt_header_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::synth(dir.path(), "c", 30, 32, 10, Codec::H264);
    let mut bytes = std::fs::read(&p).unwrap();
    let mut x = 12345u32;
    for b in bytes.iter_mut().take(2048) {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    std::fs::write(&p, &bytes).unwrap();
    assert!(matches!(
        expect_err(&p, "not a readable video"),
        VideoError::Open { .. }
    ));
}

#[test]
fn corrupt_middle_bytes_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::synth(dir.path(), "m", 60, 32, 10, Codec::Mpeg4);
    let mut bytes = std::fs::read(&p).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid..mid + 512].iter_mut().for_each(|b| *b ^= 0x5a);
    std::fs::write(&p, &bytes).unwrap();
    // Either frames or a named error: never a panic.
    if let Ok(mut r) = FrameReader::open(&p) {
        let n = r.info().n_frames;
        if let Err(e) = r.read(&[0, n / 2, n - 1], 16) {
            assert!(e.to_string().contains(&p.display().to_string()), "{e}");
        }
    }
}

#[test]
fn truncated_file_without_index() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::synth(dir.path(), "t", 60, 32, 10, Codec::H264);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap(); // moov (at the end) is lost
    expect_err(&p, "not a readable video");
}

#[test]
fn truncated_file_with_index_first() {
    let dir = tempfile::tempdir().unwrap();
    let src = common::synth(dir.path(), "s", 100, 32, 10, Codec::H264);
    let p = dir.path().join("faststart.mp4");
    let (s, d) = (src.to_str().unwrap(), p.to_str().unwrap());
    common::ffmpeg(&["-i", s, "-c", "copy", "-movflags", "+faststart", d]);
    let bytes = std::fs::read(&p).unwrap();
    std::fs::write(&p, &bytes[..bytes.len() * 6 / 10]).unwrap();
    // The header still says 100 frames; reading the last one must fail with the file named.
    let mut r = FrameReader::open(&p).unwrap();
    assert_eq!(r.info().n_frames, 100);
    let e = r.read(&[0, 99], 16).expect_err("frames past the cut");
    let msg = e.to_string();
    assert!(msg.contains(d) && msg.contains("frame 99"), "{msg}");
}

#[test]
fn huge_frame_size_is_refused_before_decoding() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::synth(dir.path(), "huge", 10, 32, 10, Codec::H264);
    // The mp4 sample entry in `stsd` (`avc1`) declares 16384x16384 (width at +28, height at +30).
    let mut bytes = std::fs::read(&p).unwrap();
    let stsd = bytes.windows(4).position(|w| w == b"stsd").unwrap();
    let at = stsd + bytes[stsd..].windows(4).position(|w| w == b"avc1").unwrap();
    bytes[at + 28..at + 32].copy_from_slice(&[0x40, 0, 0x40, 0]);
    std::fs::write(&p, &bytes).unwrap();
    let e = expect_err(&p, "frame size 16384x16384 is outside");
    assert!(
        matches!(
            e,
            VideoError::FrameSize {
                width: 16384,
                height: 16384,
                ..
            }
        ),
        "{e}"
    );
    // A YUV4MPEG2 header claiming 16K frames: FFmpeg's demuxer refuses it, also named.
    let y = dir.path().join("huge.y4m");
    let mut raw = b"YUV4MPEG2 W16384 H16384 F25:1 Ip A1:1 C420jpeg\nFRAME\n".to_vec();
    raw.extend(std::iter::repeat_n(128u8, 4096));
    std::fs::write(&y, &raw).unwrap();
    expect_err(&y, "huge.y4m");
}

/// Overwrite the 32-bit duration of every `mvhd`, `tkhd` and `mdhd` box (version 0).
fn break_durations(bytes: &mut [u8]) -> usize {
    let mut patched = 0;
    for (tag, off) in [(b"mvhd", 20), (b"tkhd", 24), (b"mdhd", 20)] {
        let mut i = 0;
        while let Some(k) = bytes[i..].windows(4).position(|w| w == tag) {
            let at = i + k + 4 + off - 4;
            if bytes[i + k + 4] == 0 {
                bytes[at..at + 4].copy_from_slice(&0xfff0_0000u32.to_be_bytes());
                patched += 1;
            }
            i += k + 4;
        }
    }
    patched
}

#[test]
fn broken_duration_header_is_recovered_by_counting() {
    let dir = tempfile::tempdir().unwrap();
    let p = common::synth(dir.path(), "d", 50, 32, 10, Codec::H264);
    let mut bytes = std::fs::read(&p).unwrap();
    assert_eq!(break_durations(&mut bytes), 3);
    std::fs::write(&p, &bytes).unwrap();
    let info = probe(&p).unwrap();
    assert_eq!(info.n_frames, 50);
    assert!(
        (info.duration - 2.0).abs() < 1e-9,
        "duration {}",
        info.duration
    );
    let mut r = FrameReader::open(&p).unwrap();
    assert_eq!(r.read(&[0, 25, 49], 16).unwrap().count, 3);
}

#[test]
fn batch_skips_and_counts_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = common::synth(dir.path(), "g", 20, 32, 10, Codec::H264);
    let empty = dir.path().join("e.mp4");
    std::fs::write(&empty, b"").unwrap();
    let garbage = dir.path().join("x.mp4");
    std::fs::write(&garbage, vec![7u8; 1000]).unwrap();
    let report = probe_many(&[good.clone(), empty, dir.path().join("missing.mp4"), garbage]);
    assert_eq!(report.ok.len(), 1);
    assert_eq!(report.ok[0].0, good);
    assert_eq!(report.skipped(), 3);
}
