//! [`HicoTokenizer`]: a `tokenizers` tokenizer (pure Rust, no downloads) plus the stop ids
//! of the Qwen chat format. Either the real Qwen `tokenizer.json` or a built-in byte-level
//! BPE (256 byte tokens, no merges) with the Qwen special tokens, for tiny random models.

use std::path::Path;

use tokenizers::models::bpe::BPE;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

use crate::LlmError;

/// Qwen's special tokens, in the order the byte-level tokenizer numbers them (from 256).
pub const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// A tokenizer with its stop ids.
#[derive(Debug, Clone)]
pub struct HicoTokenizer {
    inner: Tokenizer,
}

/// GPT-2's printable stand-in character for each byte (the byte-level alphabet).
fn byte_char(b: u8) -> char {
    let printable =
        (b'!'..=b'~').contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    if printable {
        return b as char;
    }
    // Non-printable bytes map to 256, 257, ... in byte order.
    let rank = (0..b)
        .filter(|&x| {
            !((b'!'..=b'~').contains(&x)
                || (0xA1..=0xAC).contains(&x)
                || (0xAE..=0xFF).contains(&x))
        })
        .count();
    char::from_u32(256 + rank as u32).expect("valid char")
}

impl HicoTokenizer {
    /// Load a `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<Self, LlmError> {
        let err = |message: String| LlmError::Tokenizer {
            path: path.to_owned(),
            message,
        };
        // tokenizers 0.23 panics (`expect("Helper")`) on a syntax error inside the
        // `decoder` object, e.g. a truncated file: found by tests/fuzz (docs/reliability.md).
        let read = std::panic::catch_unwind(|| Tokenizer::from_file(path));
        let inner = match read {
            Ok(r) => r.map_err(|e| err(e.to_string()))?,
            Err(p) => {
                let what = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                return Err(err(format!("malformed tokenizer.json ({what})")));
            }
        };
        Ok(Self { inner })
    }

    /// The tokenizer a `[llm] tokenizer` setting names: `"byte_level"` (built in) or a
    /// `tokenizer.json` path.
    pub fn named(name: &str) -> Result<Self, LlmError> {
        if name == "byte_level" {
            Ok(Self::byte_level())
        } else {
            Self::from_file(Path::new(name))
        }
    }

    /// Write it as a `tokenizer.json` (what a release directory holds).
    pub fn save(&self, path: &Path) -> Result<(), LlmError> {
        self.inner
            .save(path, true)
            .map_err(|e| LlmError::Tokenizer {
                path: path.to_owned(),
                message: e.to_string(),
            })
    }

    /// The built-in byte-level tokenizer: ids 0..256 are bytes, then the special tokens.
    pub fn byte_level() -> Self {
        let vocab: Vec<(String, u32)> = (0..=255u8)
            .map(|b| (byte_char(b).to_string(), b as u32))
            .collect();
        let bpe = BPE::builder()
            .vocab_and_merges(
                vocab
                    .into_iter()
                    .collect::<tokenizers::models::bpe::Vocab>(),
                Vec::new(),
            )
            .build()
            .expect("byte-level BPE builds");
        let mut inner = Tokenizer::new(bpe);
        inner.with_pre_tokenizer(Some(ByteLevel::default().add_prefix_space(false)));
        inner.with_decoder(Some(ByteLevel::default()));
        inner
            .add_special_tokens(SPECIAL_TOKENS.iter().map(|t| AddedToken::from(*t, true)))
            .expect("special tokens");
        Self { inner }
    }

    /// Token ids of `text`; special tokens written in the text are parsed as such.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        self.inner
            .encode(text, false)
            .map(|e| e.get_ids().to_vec())
            .unwrap_or_default()
    }

    /// Text of `ids` (special tokens included).
    pub fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, false).unwrap_or_default()
    }

    /// Vocabulary size including added tokens.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// Id of a token string.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Ids that end generation: `<|im_end|>` and `<|endoftext|>` where present.
    pub fn stop_ids(&self) -> Vec<u32> {
        ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| self.token_id(t))
            .collect()
    }
}

/// The Qwen chat template around a video: the text before and after the point where visual
/// embeddings are spliced (`before` + [VIDEO] + `after`).
pub fn chat_prompt(system: &str, after_video: &str) -> (String, String) {
    (
        format!("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n"),
        format!("{after_video}<|im_end|>\n<|im_start|>assistant\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_level_round_trips_and_parses_specials() {
        let t = HicoTokenizer::byte_level();
        let dir = tempfile::tempdir().unwrap();
        let saved = dir.path().join("tokenizer.json");
        t.save(&saved).unwrap();
        let back = HicoTokenizer::named(saved.to_str().unwrap()).unwrap();
        assert_eq!(back.encode("<|im_end|>hé"), t.encode("<|im_end|>hé"));
        assert_eq!(back.vocab_size(), t.vocab_size());
        assert_eq!(t.vocab_size(), 259);
        let text = "<|im_start|>user\nhé 🎬<|im_end|>";
        let ids = t.encode(text);
        assert_eq!(ids[0], 257);
        assert_eq!(*ids.last().unwrap(), 258);
        assert_eq!(ids[1], u32::from(b'u'));
        assert_eq!(t.decode(&ids), text);
        assert_eq!(t.stop_ids(), vec![258, 256]);
    }

    #[test]
    fn chat_prompt_wraps_the_video() {
        let (a, b) = chat_prompt("S", "Q?");
        assert_eq!(a, "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\n");
        assert_eq!(b, "Q?<|im_end|>\n<|im_start|>assistant\n");
    }
}
