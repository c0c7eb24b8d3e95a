//! Building a set: for every (haystack length, depth, repeat) a haystack, the needle clips
//! drawn and written over it, the video as mp4, and the question. See the crate README for
//! the construction in words.

use std::path::Path;

use indicatif::ProgressBar;
use rand::{Rng, SeedableRng, seq::SliceRandom};

use super::{
    canvas::{ANSWER_COLOURS, BACKGROUNDS, Canvas, Named, Shape, ink_for},
    haystack::{haystack, video_haystack},
    manifest::{LETTERS, Manifest, Needle, NeedleRole, Sample, question_text},
    object::object_sample,
    order::order_sample,
    spec::{BenchSpec, HaystackSource, MhNiahSpec, NiahSpec},
    writer::write_mp4,
};
use crate::EvalError;

/// The generator of every random choice in a set: ChaCha8, whose output stream for a seed
/// is documented as stable across versions (rand's `StdRng` makes no such promise). Values
/// drawn through rand's distributions (`random_range`, `shuffle`) are stable within rand
/// 0.9, which Cargo.lock pins.
pub type BenchRng = rand_chacha::ChaCha8Rng;

/// The stem of every multi-hop question.
pub const MH_STEM: &str = "From the first clip, follow each NEXT colour to the clip of that \
background until END. What colour is the shape there?";

/// The stem of every single-needle question.
pub const NIAH_STEM: &str = "What is shown in the inserted clip?";

/// Build `spec` into `dir` (videos under `dir/videos/`, `manifest.json`, `llava.json`).
/// `spec_path` names the spec's file in errors.
pub fn build_set(
    spec: &BenchSpec,
    spec_path: &Path,
    dir: &Path,
    progress: Option<&ProgressBar>,
) -> Result<Manifest, EvalError> {
    spec.validate(spec_path)?;
    let (frames, depths, repeats) = spec.layout();
    let cells: Vec<(usize, f64, usize)> = frames
        .iter()
        .flat_map(|&f| {
            depths
                .iter()
                .flat_map(move |&d| (0..repeats).map(move |r| (f, d, r)))
        })
        .collect();
    if let Some(pb) = progress {
        pb.set_length(cells.len() as u64);
    }
    // Questions are independent (each seeded by its index): encode on every core.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<Vec<(usize, Result<Sample, EvalError>)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(&cell) = cells.get(i) else { break };
                        done.push((i, one_sample(spec, dir, i, cell)));
                        if let Some(pb) = progress {
                            pb.inc(1);
                        }
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("builder thread"))
            .collect()
    });
    let mut indexed: Vec<(usize, Result<Sample, EvalError>)> =
        results.into_iter().flatten().collect();
    indexed.sort_by_key(|(i, _)| *i);
    let samples = indexed
        .into_iter()
        .map(|(_, s)| s)
        .collect::<Result<Vec<_>, _>>()?;
    let manifest = Manifest {
        spec: spec.clone(),
        samples,
        code: crate::version::code_id(),
    };
    manifest.write(dir)?;
    Ok(manifest)
}

/// Build question `i` (haystack length `n`, depth, repeat) and write its video.
fn one_sample(
    spec: &BenchSpec,
    dir: &Path,
    i: usize,
    (n, depth, rep): (usize, f64, usize),
) -> Result<Sample, EvalError> {
    let id = format!("f{n}_d{:03}_r{rep}", (depth * 100.0).round() as i64);
    let video = format!("videos/{id}.mp4");
    let (seed, size, fps) = spec.seed_size_fps();
    let seed = seed.wrapping_mul(1_000_003).wrapping_add(i as u64);
    let mut rng = BenchRng::seed_from_u64(seed);
    let mut frames = match spec.haystack() {
        HaystackSource::Synthetic => haystack(n, size, seed),
        HaystackSource::Video { path } => video_haystack(path, n, size)?,
    };
    let sample = match spec {
        BenchSpec::Niah(s) => niah_sample(s, &mut frames, depth, &mut rng),
        BenchSpec::MhNiah(s) => mh_sample(s, &mut frames, depth, &mut rng),
        BenchSpec::Object(s) => object_sample(s, &mut frames, depth, &mut rng),
        BenchSpec::Order(s) => order_sample(s, &mut frames, depth, &mut rng),
    };
    write_mp4(&dir.join(&video), &frames, fps)?;
    Ok(Sample {
        id,
        video,
        frames: n,
        depth,
        ..sample
    })
}

/// Slot (clip index) of depth `d` among `slots` slots from `first` on.
pub(super) fn slot_at(d: f64, first: usize, slots: usize) -> usize {
    first + (d * (slots - 1 - first) as f64).round() as usize
}

/// Draw one needle image.
fn needle_image(size: usize, bg: Named, lines: &[&str], shape: Option<(Shape, Named)>) -> Canvas {
    let mut c = Canvas::new(size, size, bg.rgb);
    let scale = (size / 64).max(1);
    let ink = ink_for(bg.rgb);
    for (k, line) in lines.iter().enumerate() {
        c.text_centred(line, (2 + 9 * k * scale) as i64, scale, ink);
    }
    if let Some((s, col)) = shape {
        let (cx, cy, r) = (
            size as i64 / 2,
            size as i64 * 58 / 100,
            size as i64 * 4 / 10,
        );
        c.shape(s, cx, cy, r, col.rgb);
    }
    c
}

/// Write `image` over the `nf` frames of `slot`.
fn insert(frames: &mut [Canvas], slot: usize, nf: usize, image: &Canvas) -> usize {
    let start = slot * nf;
    for f in &mut frames[start..start + nf] {
        f.clone_from(image);
    }
    start
}

pub(super) fn letters_for(
    options: &mut [String],
    answer: &str,
    rng: &mut BenchRng,
    shuffle: bool,
) -> String {
    if shuffle {
        options.shuffle(rng);
    }
    let k = options
        .iter()
        .position(|o| o == answer)
        .expect("answer is an option");
    LETTERS[k].to_string()
}

fn niah_sample(s: &NiahSpec, frames: &mut [Canvas], depth: f64, rng: &mut BenchRng) -> Sample {
    let slots = frames.len() / s.needle_frames;
    let slot = slot_at(depth, 0, slots);
    let combos: Vec<(Named, Shape)> = ANSWER_COLOURS
        .iter()
        .flat_map(|&c| Shape::ALL.iter().map(move |&sh| (c, sh)))
        .collect();
    let name = |(c, sh): (Named, Shape)| format!("{} {}", c.name, sh.name());
    let mut picks: Vec<usize> = (0..combos.len()).collect();
    picks.shuffle(rng);
    picks.truncate(4);
    let truth = combos[picks[0]];
    if !s.shuffle_options {
        picks.sort_unstable();
    }
    let mut options: Vec<String> = picks.iter().map(|&i| name(combos[i])).collect();
    let answer_text = name(truth);
    let answer = letters_for(&mut options, &answer_text, rng, s.shuffle_options);
    let bg = BACKGROUNDS[rng.random_range(0..BACKGROUNDS.len())];
    let image = needle_image(
        frames[0].width,
        bg,
        &[truth.0.name],
        Some((truth.1, truth.0)),
    );
    let start = insert(frames, slot, s.needle_frames, &image);
    Sample {
        id: String::new(),
        video: String::new(),
        frames: 0,
        depth,
        question: question_text(NIAH_STEM, &options),
        options,
        answer,
        answer_text: answer_text.clone(),
        needles: vec![Needle {
            start,
            role: NeedleRole::Needle,
            background: bg.name.into(),
            text: truth.0.name.into(),
            shape: Some(answer_text),
        }],
    }
}

fn mh_sample(s: &MhNiahSpec, frames: &mut [Canvas], depth: f64, rng: &mut BenchRng) -> Sample {
    let size = frames[0].width;
    let slots = frames.len() / s.needle_frames;
    let hops = rng.random_range(s.min_hops..=s.max_hops);
    // Distinct backgrounds: the chain first, then the off-chain needles.
    let mut bgs: Vec<Named> = BACKGROUNDS.to_vec();
    bgs.shuffle(rng);
    // Slots: hop 0 at slot 0, the final hop at the depth, everyone else at random.
    let last = slot_at(depth, 1, slots);
    let mut free: Vec<usize> = (1..slots).filter(|&k| k != last).collect();
    free.shuffle(rng);
    let mut placed: Vec<(usize, Needle, Canvas)> = Vec::new();
    let truth = ANSWER_COLOURS[rng.random_range(0..4)];
    let mut free_iter = free.into_iter();
    for h in 0..hops {
        let slot = match h {
            0 => 0,
            _ if h == hops - 1 => last,
            _ => free_iter.next().expect("validated: enough slots"),
        };
        let (lines, shape): (Vec<&str>, _) = if h == hops - 1 {
            (
                vec!["END"],
                Some((Shape::ALL[rng.random_range(0..4)], truth)),
            )
        } else {
            (vec!["NEXT", bgs[h + 1].name], None)
        };
        placed.push(needle(
            size,
            slot,
            NeedleRole::Hop(h),
            bgs[h],
            &lines,
            shape,
        ));
    }
    for k in 0..s.distractors + s.decoys {
        let slot = free_iter.next().expect("validated: enough slots");
        let bg = bgs[hops + k];
        if k < s.distractors {
            // Points anywhere but never back into the chain's order.
            let to = bgs[rng.random_range(hops..bgs.len())].name;
            placed.push(needle(
                size,
                slot,
                NeedleRole::Distractor,
                bg,
                &["NEXT", to],
                None,
            ));
        } else {
            let others: Vec<Named> = ANSWER_COLOURS
                .iter()
                .copied()
                .filter(|c| *c != truth)
                .collect();
            let col = others[rng.random_range(0..others.len())];
            let shape = Some((Shape::ALL[rng.random_range(0..4)], col));
            placed.push(needle(size, slot, NeedleRole::Decoy, bg, &["END"], shape));
        }
    }
    placed.sort_by_key(|p| p.0);
    let needles = placed
        .into_iter()
        .map(|(slot, mut n, image)| {
            n.start = insert(frames, slot, s.needle_frames, &image);
            n
        })
        .collect();
    let mut options: Vec<String> = ANSWER_COLOURS.iter().map(|c| c.name.to_string()).collect();
    let answer = letters_for(&mut options, truth.name, rng, s.shuffle_options);
    Sample {
        id: String::new(),
        video: String::new(),
        frames: 0,
        depth,
        question: question_text(MH_STEM, &options),
        options,
        answer,
        answer_text: truth.name.into(),
        needles,
    }
}

fn needle(
    size: usize,
    slot: usize,
    role: NeedleRole,
    bg: Named,
    lines: &[&str],
    shape: Option<(Shape, Named)>,
) -> (usize, Needle, Canvas) {
    let info = Needle {
        start: 0,
        role,
        background: bg.name.into(),
        text: lines.join(" "),
        shape: shape.map(|(s, c)| format!("{} {}", c.name, s.name())),
    };
    (slot, info, needle_image(size, bg, lines, shape))
}
