//! `hico config check` checks a config against its model: a drop after a layer the LLM does
//! not have, and a Hugging Face directory of an unsupported family, are errors naming the
//! file and the key (instead of a schedule that silently never drops, or a list of missing
//! tensors at load time).

use std::{path::Path, process::Command};

fn check(file: &Path) -> (bool, String) {
    let res = Command::new(env!("CARGO_BIN_EXE_hico"))
        .args(["config", "check"])
        .arg(file)
        .output()
        .unwrap();
    (
        res.status.success(),
        String::from_utf8_lossy(&res.stderr).into_owned(),
    )
}

#[test]
fn config_check_knows_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let tiny =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/tiny.toml"))
            .unwrap();
    let deep = dir.path().join("deep.toml");
    std::fs::write(&deep, tiny.replace("layers = [1, 3]", "layers = [1, 9]")).unwrap();
    let (ok, err) = check(&deep);
    assert!(!ok);
    assert!(
        err.contains("deep.toml") && err.contains("dropout.layers") && err.contains("layer 9"),
        "{err}"
    );

    let llm = dir.path().join("gpt2");
    std::fs::create_dir(&llm).unwrap();
    std::fs::write(
        llm.join("config.json"),
        r#"{"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "num_hidden_layers": 16}"#,
    )
    .unwrap();
    let start = tiny.find("[llm]").unwrap();
    let end = tiny.find("[dropout]").unwrap();
    let hf = dir.path().join("hf.toml");
    let section = format!("[llm]\nkind = \"hf\"\npath = {:?}\n\n", llm);
    std::fs::write(&hf, format!("{}{section}{}", &tiny[..start], &tiny[end..])).unwrap();
    let (ok, err) = check(&hf);
    assert!(!ok);
    assert!(
        err.contains("config.json")
            && err.contains("model_type `gpt2` names no decoder family hico loads"),
        "{err}"
    );
}
