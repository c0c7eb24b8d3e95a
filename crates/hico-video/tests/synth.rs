//! Synthetic videos: needles are where the manifest says after a real encode/decode, and
//! a 600-frame 128x128 haystack is written in seconds.

use std::time::Instant;

use hico_video::synth::{Needle, Shape, SynthSpec, background, write_video};
use hico_video::{FrameReader, probe};

#[test]
fn needle_survives_encoding_at_its_frames() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = SynthSpec::new(600, 30.0, 128);
    spec.needles.push(Needle::at_depth(
        0.25,
        10,
        600,
        "CAT",
        [255, 0, 0],
        Shape::Circle,
    ));
    spec.needles.push(Needle::at_depth(
        0.75,
        4,
        600,
        "DOG",
        [0, 0, 255],
        Shape::Square,
    ));
    let path = dir.path().join("hay.mp4");
    let t0 = Instant::now();
    let manifest = write_video(&spec, &path).unwrap();
    let took = t0.elapsed().as_secs_f64();
    eprintln!("600 frames 128x128 written in {took:.2} s");
    assert!(took < 30.0, "synth too slow: {took:.1} s");
    manifest.write_json(&dir.path().join("hay.json")).unwrap();
    assert_eq!(manifest.needle_seconds[0], (5.0, 5.0 + 10.0 / 30.0));

    let info = probe(&path).unwrap();
    assert_eq!((info.n_frames, info.width, info.height), (600, 128, 128));
    let (a, b) = (spec.needles[0].start, spec.needles[1].start);
    let idx = [a - 1, a, a + 9, a + 10, b, b + 3];
    let frames = FrameReader::open(&path).unwrap().read(&idx, 128).unwrap();
    // centre of the shape: (64, 51)
    let px = |k: usize| {
        let o = 3 * (51 * 128 + 64);
        frames.frame(k)[o..o + 3]
            .iter()
            .map(|&v| i32::from(v))
            .collect::<Vec<_>>()
    };
    let close = |got: Vec<i32>, want: [u8; 3]| {
        got.iter()
            .zip(want)
            .all(|(&g, w)| (g - i32::from(w)).abs() < 24)
    };
    assert!(
        close(px(1), [255, 0, 0]) && close(px(2), [255, 0, 0]),
        "{:?}",
        px(1)
    );
    assert!(
        close(px(4), [0, 0, 255]) && close(px(5), [0, 0, 255]),
        "{:?}",
        px(4)
    );
    assert!(close(px(0), background(a - 1)), "{:?}", px(0));
    assert!(close(px(3), background(a + 10)), "{:?}", px(3));
}
