//! The fuzzing harness: a seeded generator, byte and text mutators, and [`Target::case`],
//! which runs one input on its own thread and checks the properties every parser must keep:
//! no panic, no hang (a generous per-case limit, a hang detector rather than a timing
//! check), no allocation out of proportion to the input (the counting allocator of
//! `hico_backend::mem`), and an error that names the file.

use std::{
    path::{Path, PathBuf},
    sync::{Mutex, MutexGuard, mpsc},
    time::Duration,
};

use hico_backend::mem;

/// SplitMix64: a small, fixed-seed generator (the same cases on every machine).
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One of `items`.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Cases per target: `HICO_FUZZ_ITERS` (default 48, so `cargo test` stays quick; CI or a
/// long local run raises it).
pub fn iters() -> usize {
    std::env::var("HICO_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48)
}

/// Integers that break length and offset arithmetic.
const INTERESTING: [u64; 10] = [
    0,
    1,
    0x7F,
    0xFF,
    0xFFFF_FFFF,
    1 << 31,
    1 << 40,
    i64::MAX as u64,
    u64::MAX,
    u64::MAX - 7,
];

/// 1 to 4 random byte-level edits of `seed`: bit flips, random or extreme bytes, extreme
/// little-endian u32/u64 values, truncation, insertion, deletion, duplication of a range.
pub fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let n = b.len();
        let at = rng.below(n.max(1));
        match rng.below(9) {
            0 if n > 0 => b[at] ^= 1 << rng.below(8),
            1 if n > 0 => b[at] = rng.next() as u8,
            2 if n > 0 => b[at] = *rng.pick(&[0u8, 0xFF, 0x7F, 0x80]),
            3 if n >= 8 => {
                let at = rng.below(n - 7);
                b[at..at + 8].copy_from_slice(&rng.pick(&INTERESTING).to_le_bytes());
            }
            4 if n >= 4 => {
                let at = rng.below(n - 3);
                let v = *rng.pick(&INTERESTING) as u32;
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            5 => b.truncate(at),
            6 => {
                let extra: Vec<u8> = (0..1 + rng.below(16)).map(|_| rng.next() as u8).collect();
                b.splice(at..at, extra);
            }
            7 if n > 0 => {
                let end = (at + 1 + rng.below(64)).min(n);
                b.drain(at..end);
            }
            _ if n > 0 => {
                let end = (at + 1 + rng.below(256)).min(n);
                let chunk = b[at..end].to_vec();
                let to = rng.below(n);
                b.splice(to..to, chunk);
            }
            _ => b.push(rng.next() as u8),
        }
    }
    b
}

/// Text-aware edits for TOML and JSON: a number made extreme, negative, fractional or
/// huge; a token or line dropped or doubled; a quote or bracket removed; else byte edits.
pub fn mutate_text(rng: &mut Rng, seed: &str) -> Vec<u8> {
    const NUMBERS: [&str; 9] = [
        "0",
        "-1",
        "1e400",
        "18446744073709551616",
        "9223372036854775807",
        "4294967296",
        "0.0000001",
        "nan",
        "\"x\"",
    ];
    let lines: Vec<&str> = seed.lines().collect();
    match rng.below(5) {
        0 => {
            // Replace one number with an extreme one.
            let starts: Vec<usize> = seed
                .char_indices()
                .filter(|&(i, c)| {
                    c.is_ascii_digit()
                        && !seed[..i].ends_with(|p: char| p.is_ascii_alphanumeric() || p == '.')
                })
                .map(|(i, _)| i)
                .collect();
            if starts.is_empty() {
                return mutate(rng, seed.as_bytes());
            }
            let s = *rng.pick(&starts);
            let len = seed[s..]
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-'))
                .unwrap_or(seed.len() - s);
            format!("{}{}{}", &seed[..s], rng.pick(&NUMBERS), &seed[s + len..]).into_bytes()
        }
        1 if !lines.is_empty() => {
            let mut l = lines.clone();
            let i = rng.below(l.len());
            if rng.below(2) == 0 {
                l.remove(i);
            } else {
                l.insert(i, lines[i]);
            }
            l.join("\n").into_bytes()
        }
        2 => {
            let marks: Vec<usize> = seed
                .char_indices()
                .filter(|&(_, c)| "\"[]{}=,:".contains(c))
                .map(|(i, _)| i)
                .collect();
            if marks.is_empty() {
                return mutate(rng, seed.as_bytes());
            }
            let i = *rng.pick(&marks);
            let mut b = seed.as_bytes().to_vec();
            b.remove(i);
            b
        }
        _ => mutate(rng, seed.as_bytes()),
    }
}

/// Serialises the fuzz targets of this binary: the heap counters are process-wide.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// One fuzz target: its name, where failing inputs are saved, what it has seen.
pub struct Target {
    name: &'static str,
    _serial: MutexGuard<'static, ()>,
    /// Cases run.
    pub cases: usize,
    /// Cases the parser accepted.
    pub accepted: usize,
    /// Most heap bytes one case allocated in one block.
    pub largest: usize,
}

/// How a case ended, as its closure reports it: `Ok(())` or an error message.
pub type CaseResult = Result<(), String>;

impl Target {
    /// Start target `name` (waits for any other target of this binary to finish).
    pub fn new(name: &'static str) -> Self {
        assert!(
            mem::tracking(),
            "the fuzz binary installs the counting allocator"
        );
        Self {
            name,
            _serial: serial(),
            cases: 0,
            accepted: 0,
            largest: 0,
        }
    }

    /// Run case `i` on `input` (already written to `file`): `run` parses it on its own
    /// thread. Fails the test on a panic, a hang, a single allocation above `max_alloc`
    /// bytes, or an error whose message does not contain `file`'s name (or one of
    /// `also_named`). Failing inputs are kept under `target/fuzz-failures/`.
    pub fn case(
        &mut self,
        i: usize,
        input: &[u8],
        file: &Path,
        max_alloc: usize,
        run: impl FnOnce() -> CaseResult + Send + 'static,
    ) {
        self.cases += 1;
        let timeout = Duration::from_secs(
            std::env::var("HICO_FUZZ_TIMEOUT_S")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(120),
        );
        let base = mem::reset();
        let (tx, rx) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name(format!("fuzz-{}-{i}", self.name))
            .spawn(move || {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(run));
                let _ = tx.send(r);
            })
            .expect("spawning a fuzz case");
        let outcome = rx.recv_timeout(timeout);
        let largest = mem::stats().largest;
        self.largest = self.largest.max(largest);
        let fail = |why: String| -> ! {
            let saved = self.save(i, input);
            panic!(
                "fuzz target `{}`, case {i}: {why}\n  input saved to {}",
                self.name,
                saved.display()
            )
        };
        let result = match outcome {
            Err(_) => fail(format!("no result after {} s (hang?)", timeout.as_secs())),
            Ok(Err(panic)) => fail(format!("panicked: {}", panic_text(&panic))),
            Ok(Ok(r)) => r,
        };
        let _ = worker.join();
        if largest > max_alloc {
            fail(format!(
                "one allocation of {largest} bytes (limit {max_alloc}) for a {}-byte input (live before: {})",
                input.len(),
                base.live
            ));
        }
        match result {
            Ok(()) => self.accepted += 1,
            Err(msg) => {
                let name = file.file_name().unwrap_or_default().to_string_lossy();
                if !msg.contains(name.as_ref()) {
                    fail(format!("the error does not name `{name}`: {msg}"));
                }
            }
        }
    }

    fn save(&self, i: usize, input: &[u8]) -> PathBuf {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join(format!("{}-{i}", self.name));
        let _ = std::fs::write(&path, input);
        path
    }

    /// One line for the log: cases, accepted, largest allocation.
    pub fn report(&self) {
        eprintln!(
            "fuzz {}: {} cases, {} accepted, largest allocation {} KiB",
            self.name,
            self.cases,
            self.accepted,
            self.largest / 1024
        );
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
