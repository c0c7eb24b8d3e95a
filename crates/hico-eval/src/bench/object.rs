//! Find the object: a small shape in one of the four answer colours drifts through one clip
//! of a moving haystack; the question asks its colour. The object covers a few patches of a
//! few frames, so merging, pooling and dropping visual tokens can lose it.

use rand::Rng;

use super::{
    build::{BenchRng, letters_for, slot_at},
    canvas::{ANSWER_COLOURS, Canvas, Rgb, Shape},
    manifest::{Needle, NeedleRole, Sample, question_text},
    spec::ObjectSpec,
};

/// The stem of every find-the-object question.
pub const OBJECT_STEM: &str = "What colour is the small object?";

/// Draw the object into the clip at `depth` of `frames` and return the question.
///
/// The clip is slot `round(depth · (N/needle_frames − 1))`. The object: a random shape
/// (square, disc, triangle, cross) of side `object_size`, one of the four answer colours,
/// starting at a random place wholly inside the frame and moving by a random step of up to
/// `object_size / 4` pixels per frame on each axis (bouncing off the edges).
pub fn object_sample(
    s: &ObjectSpec,
    frames: &mut [Canvas],
    depth: f64,
    rng: &mut BenchRng,
) -> Sample {
    let slots = frames.len() / s.needle_frames;
    let slot = slot_at(depth, 0, slots);
    let truth = ANSWER_COLOURS[rng.random_range(0..ANSWER_COLOURS.len())];
    let shape = Shape::ALL[rng.random_range(0..Shape::ALL.len())];
    let start = slot * s.needle_frames;
    draw_drifting(
        &mut frames[start..start + s.needle_frames],
        shape,
        truth.rgb,
        s.object_size,
        rng,
    );
    let mut options: Vec<String> = ANSWER_COLOURS.iter().map(|c| c.name.to_string()).collect();
    let answer = letters_for(&mut options, truth.name, rng, s.shuffle_options);
    let answer_text = truth.name.to_string();
    Sample {
        id: String::new(),
        video: String::new(),
        frames: 0,
        depth,
        question: question_text(OBJECT_STEM, &options),
        options,
        answer,
        answer_text,
        needles: vec![Needle {
            start,
            role: NeedleRole::Needle,
            background: "haystack".into(),
            text: String::new(),
            shape: Some(format!("{} {}", truth.name, shape.name())),
        }],
    }
}

/// Draw `shape` of side `object_size` in colour `rgb` over every frame of `clip`, starting at
/// a random place wholly inside the frame and moving by a random step of up to
/// `object_size / 4` pixels per frame on each axis (bouncing off the edges). Draws the start
/// (x, y) and then the step (vx, vy) from `rng`.
pub(super) fn draw_drifting(
    clip: &mut [Canvas],
    shape: Shape,
    rgb: Rgb,
    object_size: usize,
    rng: &mut BenchRng,
) {
    let size = clip[0].width as i64;
    let r = (object_size / 2) as i64;
    let (lo, hi) = (r, size - 1 - r);
    let (mut x, mut y) = (rng.random_range(lo..=hi), rng.random_range(lo..=hi));
    let step = (object_size as i64 / 4).max(1);
    let (mut vx, mut vy) = (
        rng.random_range(-step..=step),
        rng.random_range(-step..=step),
    );
    for f in clip {
        f.shape(shape, x, y, r, rgb);
        if !(lo..=hi).contains(&(x + vx)) {
            vx = -vx;
        }
        if !(lo..=hi).contains(&(y + vy)) {
            vy = -vy;
        }
        (x, y) = (x + vx, y + vy);
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::bench::haystack::haystack;

    fn spec() -> ObjectSpec {
        toml::from_str("frames = [16]\nobject_size = 12").unwrap()
    }

    #[test]
    fn object_is_drawn_only_in_its_clip_and_answer_matches_its_colour() {
        let s = spec();
        let clean = haystack(16, 64, 7);
        let mut frames = clean.clone();
        let mut rng = BenchRng::seed_from_u64(7);
        let q = object_sample(&s, &mut frames, 0.5, &mut rng);
        // Slot round(0.5 · 3) = 2: frames 8..12.
        assert_eq!(q.needles[0].start, 8);
        let colour = ANSWER_COLOURS
            .iter()
            .find(|c| c.name == q.answer_text)
            .unwrap();
        for (i, (a, b)) in frames.iter().zip(&clean).enumerate() {
            let changed: Vec<usize> = (0..a.data.len() / 3)
                .filter(|&p| a.data[3 * p..3 * p + 3] != b.data[3 * p..3 * p + 3])
                .collect();
            if (8..12).contains(&i) {
                // A small object: some pixels, at most its bounding box, all in its colour.
                assert!(!changed.is_empty() && changed.len() <= 13 * 13, "frame {i}");
                assert!(
                    changed
                        .iter()
                        .all(|&p| a.data[3 * p..3 * p + 3] == colour.rgb)
                );
            } else {
                assert!(changed.is_empty(), "frame {i} outside the clip changed");
            }
        }
        // Fixed option order: the letter is the colour's place in RED, GREEN, BLUE, YELLOW.
        let k = ANSWER_COLOURS
            .iter()
            .position(|c| c.name == q.answer_text)
            .unwrap();
        assert_eq!(q.answer, crate::bench::LETTERS[k]);
        assert!(q.question.starts_with(OBJECT_STEM));
    }
}
