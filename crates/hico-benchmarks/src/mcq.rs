//! The multiple-choice matcher MVBench, MLVU and LVBench share (`mcq_acc` in each task's
//! official `utils.py`), with its quirks kept:
//!
//! - a reply of the form `X. text` (X in A–E, either case, no line break after the text
//!   starts) is the letter X;
//! - otherwise the reply is normalised (VQA-style punctuation handling, at most 32 periods
//!   removed: the official `periodStrip.sub("", text, re.UNICODE)` passes `re.UNICODE` (32)
//!   as the replacement count), lower-cased, and the first stand-alone letter a–e anywhere in
//!   it is the answer, so "a cat" is A and "I think it is (c)" is C;
//! - failing that, the normalised text itself is the answer (never equal to a gold letter).

use std::sync::OnceLock;

use regex::Regex;

use crate::question::py_strip;

fn re(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| Regex::new(pattern).expect("static regex"))
}

const PUNCT: [&str; 21] = [
    ";", "/", "[", "]", "\"", "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`",
    ",", "?", "!",
];

fn is_py_digit(c: char) -> bool {
    static D: OnceLock<Regex> = OnceLock::new();
    let mut buf = [0u8; 4];
    re(&D, r"^\d$").is_match(c.encode_utf8(&mut buf))
}

fn process_punctuation(text: &str) -> String {
    static COMMA: OnceLock<Regex> = OnceLock::new();
    let comma_between_digits = re(&COMMA, r"\d,\d").is_match(text);
    let mut out = text.to_string();
    for p in PUNCT {
        let spaced = text.contains(&format!("{p} ")) || text.contains(&format!(" {p}"));
        out = out.replace(
            p,
            if spaced || comma_between_digits {
                ""
            } else {
                " "
            },
        );
    }
    // periodStrip: a '.' not followed by a digit, at most 32 of them.
    let chars: Vec<char> = out.chars().collect();
    let mut kept = String::with_capacity(out.len());
    let mut removed = 0;
    for (i, &c) in chars.iter().enumerate() {
        let next_digit = chars.get(i + 1).is_some_and(|&n| is_py_digit(n));
        if c == '.' && !next_digit && removed < 32 {
            removed += 1;
            continue;
        }
        kept.push(c);
    }
    kept
}

/// `process()` of the official `mcq_acc`: a letter (`"A"`–`"E"`) or the normalised text.
pub fn process(answer: &str) -> String {
    static OPTION: OnceLock<Regex> = OnceLock::new();
    static LETTER: OnceLock<Regex> = OnceLock::new();
    if let Some(m) = re(&OPTION, r"^([A-Ea-e])\.\s*[^\n]+$").captures(py_strip(answer)) {
        return m[1].to_uppercase();
    }
    let a = answer.replace(['\n', '\t'], " ");
    let a = process_punctuation(py_strip(&a));
    let a = a
        .trim_matches('\'')
        .trim_matches('"')
        .trim_matches(')')
        .trim_matches('(');
    let a = py_strip(a).to_lowercase();
    match re(&LETTER, r"(?i)\b([a-e])\b").captures(&a) {
        Some(m) => m[1].to_uppercase(),
        None => a,
    }
}
