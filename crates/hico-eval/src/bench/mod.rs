//! Benchmark construction: synthetic haystacks, needle clips drawn with a built-in font,
//! mp4 files through ffmpeg, and the question manifest (NIAH, multi-hop NIAH, find the object, order of events).

pub mod build;
pub mod canvas;
pub mod haystack;
pub mod manifest;
pub mod object;
pub mod order;
pub mod spec;
pub mod writer;

pub use build::build_set;
pub use manifest::{ANSWER_INSTRUCTION, LETTERS, Manifest, Needle, NeedleRole, Sample};
pub use spec::{BenchSpec, HaystackSource, MhNiahSpec, NiahSpec, ObjectSpec, OrderSpec};
