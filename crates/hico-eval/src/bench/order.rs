//! Order of events: two to four small objects, each in its own answer colour, drift through
//! their own clips of a moving haystack; the question asks which colour appeared first (or
//! second, or last). No single clip holds the answer: the model must relate clips to each
//! other, which only the LLM can do (the vision encoder sees one clip at a time), and the
//! question comes after the video, so the video's tokens cannot know what will be asked.

use rand::{Rng, seq::SliceRandom};
use serde::{Deserialize, Serialize};

use super::{
    build::{BenchRng, letters_for, slot_at},
    canvas::{ANSWER_COLOURS, Canvas, Shape},
    manifest::{Needle, NeedleRole, Sample, question_text},
    object::draw_drifting,
    spec::OrderSpec,
};

/// Which object in time order a question asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderAsk {
    /// The object of the earliest clip.
    First,
    /// The object of the second clip that holds one.
    Second,
    /// The object of the latest clip.
    Last,
}

impl OrderAsk {
    /// The question's stem.
    pub fn stem(self) -> &'static str {
        match self {
            Self::First => "Which colour appeared first?",
            Self::Second => "Which colour appeared second?",
            Self::Last => "Which colour appeared last?",
        }
    }

    /// The index, in time order, of the object asked for among `n`.
    fn index(self, n: usize) -> usize {
        match self {
            Self::First => 0,
            Self::Second => 1,
            Self::Last => n - 1,
        }
    }
}

/// Draw the objects of one question into `frames` and return it.
///
/// `n` objects (uniform in `[min_objects, max_objects]`) with distinct answer colours and
/// random shapes, each drawn as the find-the-object benchmark draws its one object. The
/// first object's clip is slot `round(depth · (S − n))` of the `S` slots (so depth 0…1
/// spans every place the first can take with the others after it); the other objects take
/// distinct random later slots. The question (its kind drawn uniformly from `ask`) asks the
/// colour of the first, second or last object in time.
pub fn order_sample(
    s: &OrderSpec,
    frames: &mut [Canvas],
    depth: f64,
    rng: &mut BenchRng,
) -> Sample {
    let slots = frames.len() / s.needle_frames;
    let n = rng.random_range(s.min_objects..=s.max_objects);
    let first = slot_at(depth, 0, slots - n + 1);
    let mut later: Vec<usize> = (first + 1..slots).collect();
    later.shuffle(rng);
    later.truncate(n - 1);
    later.sort_unstable();
    let placed: Vec<usize> = std::iter::once(first).chain(later).collect();
    let mut colours = ANSWER_COLOURS.to_vec();
    colours.shuffle(rng);
    let ask = s.ask[rng.random_range(0..s.ask.len())];
    let target = ask.index(n);
    let mut needles = Vec::with_capacity(n);
    for (k, &slot) in placed.iter().enumerate() {
        let shape = Shape::ALL[rng.random_range(0..Shape::ALL.len())];
        let start = slot * s.needle_frames;
        draw_drifting(
            &mut frames[start..start + s.needle_frames],
            shape,
            colours[k].rgb,
            s.object_size,
            rng,
        );
        needles.push(Needle {
            start,
            role: if k == target {
                NeedleRole::Needle
            } else {
                NeedleRole::Distractor
            },
            background: "haystack".into(),
            text: String::new(),
            shape: Some(format!("{} {}", colours[k].name, shape.name())),
        });
    }
    let truth = colours[target];
    let mut options: Vec<String> = ANSWER_COLOURS.iter().map(|c| c.name.to_string()).collect();
    let answer = letters_for(&mut options, truth.name, rng, s.shuffle_options);
    Sample {
        id: String::new(),
        video: String::new(),
        frames: 0,
        depth,
        question: question_text(ask.stem(), &options),
        options,
        answer,
        answer_text: truth.name.into(),
        needles,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;
    use crate::bench::{LETTERS, haystack::haystack};

    fn spec(extra: &str) -> OrderSpec {
        toml::from_str(&format!("frames = [32]\nobject_size = 12\n{extra}")).unwrap()
    }

    /// The clips (by first frame) whose pixels differ from the clean haystack.
    fn changed_clips(a: &[Canvas], b: &[Canvas]) -> Vec<usize> {
        let mut out: Vec<usize> = (0..a.len())
            .filter(|&i| a[i].data != b[i].data)
            .map(|i| i / 4 * 4)
            .collect();
        out.dedup();
        out
    }

    #[test]
    fn objects_sit_in_their_clips_in_time_order_and_the_answer_is_the_asked_one() {
        let mut seen_asks = std::collections::HashSet::new();
        let mut seen_n = std::collections::HashSet::new();
        for seed in 0..40 {
            let s =
                spec("min_objects = 2\nmax_objects = 4\nask = [\"first\", \"second\", \"last\"]");
            let clean = haystack(32, 64, seed);
            let mut frames = clean.clone();
            let mut rng = BenchRng::seed_from_u64(seed);
            let q = order_sample(&s, &mut frames, 0.5, &mut rng);
            let n = q.needles.len();
            assert!((2..=4).contains(&n));
            seen_n.insert(n);
            // Each object's clip is drawn, nothing else; clips in increasing time order.
            let starts: Vec<usize> = q.needles.iter().map(|nd| nd.start).collect();
            assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
            assert_eq!(changed_clips(&frames, &clean), starts);
            // Depth 0.5 of the 8 − n + 1 places of the first object.
            assert_eq!(starts[0], slot_at(0.5, 0, 8 - n + 1) * 4);
            // Distinct colours; the one asked for is the answer, at its fixed letter.
            let colours: Vec<&str> = q
                .needles
                .iter()
                .map(|nd| nd.shape.as_deref().unwrap().split(' ').next().unwrap())
                .collect();
            let mut uniq = colours.clone();
            uniq.sort_unstable();
            uniq.dedup();
            assert_eq!(uniq.len(), n);
            let ask = [OrderAsk::First, OrderAsk::Second, OrderAsk::Last]
                .into_iter()
                .find(|a| q.question.starts_with(a.stem()))
                .expect("a known stem");
            seen_asks.insert(ask);
            let target = ask.index(n);
            assert_eq!(q.answer_text, colours[target]);
            assert_eq!(q.needles[target].role, NeedleRole::Needle);
            let k = ANSWER_COLOURS
                .iter()
                .position(|c| c.name == q.answer_text)
                .unwrap();
            assert_eq!(q.answer, LETTERS[k]);
        }
        assert_eq!(seen_asks.len(), 3, "every kind of question drawn in 40");
        assert_eq!(seen_n.len(), 3, "every object count drawn in 40");
    }

    #[test]
    fn the_same_seed_draws_the_same_question() {
        let s = spec("min_objects = 2\nmax_objects = 2");
        let draw = || {
            let mut frames = haystack(32, 64, 3);
            let q = order_sample(&s, &mut frames, 1.0, &mut BenchRng::seed_from_u64(3));
            (q, frames)
        };
        let (a, fa) = draw();
        let (b, fb) = draw();
        assert_eq!(a, b);
        assert!(fa.iter().zip(&fb).all(|(x, y)| x.data == y.data));
        // Depth 1 with 2 objects: the first object in slot 6, the last in 7.
        assert_eq!(a.needles[0].start, 24);
        assert_eq!(a.needles[1].start, 28);
    }

    #[test]
    fn bad_specs_are_refused_naming_the_key() {
        use crate::bench::BenchSpec;
        let err = |extra: &str| {
            let b: BenchSpec =
                toml::from_str(&format!("kind = \"order\"\nframes = [8]\n{extra}")).unwrap();
            match b.validate(std::path::Path::new("x.toml")) {
                Err(crate::EvalError::Spec { key, .. }) => key,
                other => panic!("{extra}: {other:?}"),
            }
        };
        // 8 frames = 2 clips: three objects do not fit.
        assert_eq!(err("max_objects = 3"), "benchmark.frames");
        assert_eq!(
            err("min_objects = 3\nmax_objects = 2"),
            "benchmark.min_objects"
        );
        assert_eq!(err("max_objects = 5"), "benchmark.min_objects");
        assert_eq!(err("max_objects = 2\nask = []"), "benchmark.ask");
        assert_eq!(
            err("min_objects = 1\nmax_objects = 2\nask = [\"second\"]"),
            "benchmark.ask"
        );
        assert_eq!(
            err("max_objects = 2\nobject_size = 40"),
            "benchmark.object_size"
        );
        let ok: BenchSpec =
            toml::from_str("kind = \"order\"\nframes = [8]\nmax_objects = 2").unwrap();
        assert!(ok.validate(std::path::Path::new("x.toml")).is_ok());
        assert_eq!(ok.kind(), "order");
    }
}
