//! `PipelineConfig` errors name the file, the key and what was expected.

use std::path::Path;

use hico_core::config::{CompressorConfig, DropoutConfig, PipelineConfig, parse_toml};

fn tiny() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tiny.toml"))
        .unwrap()
}

fn err(text: &str) -> String {
    let path = Path::new("configs/bad.toml");
    match parse_toml::<PipelineConfig>(text, path).and_then(|c| c.validate(path).map(|_| c)) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn tiny_parses() {
    let c: PipelineConfig = parse_toml(&tiny(), Path::new("tiny.toml")).unwrap();
    c.validate(Path::new("tiny.toml")).unwrap();
    assert_eq!(
        c.compressor,
        CompressorConfig::Tome {
            tokens_per_frame: 4
        }
    );
    assert_eq!(c.dropout.kind(), "uniform0_attention");
}

#[test]
fn typo_key_is_named() {
    let e = err(&tiny().replace("tokens_per_frame = 4", "tokens_per_frme = 4"));
    assert!(e.starts_with("configs/bad.toml"), "{e}");
    assert!(e.contains("`compressor.tokens_per_frme` (line 25)"), "{e}");
    assert!(e.contains("compressor"), "{e}");
    assert!(e.contains("expected"), "{e}");
}

#[test]
fn top_level_typo_is_named() {
    let e = err(&tiny().replace("[generation]", "[generaton]"));
    assert!(e.contains("unknown field `generaton`"), "{e}");
}

#[test]
fn wrong_type_is_named() {
    let e = err(&tiny().replace("depth = 2", "depth = \"two\""));
    assert!(e.contains("vision.depth"), "{e}");
    assert!(e.contains("expected usize"), "{e}");
    assert!(e.contains("(line 17)"), "{e}");
}

#[test]
fn unknown_kind_is_named() {
    let e = err(&tiny().replace("kind = \"tome\"", "kind = \"tomee\""));
    assert!(e.contains("`compressor.kind` (line 24)"), "{e}");
    assert!(e.contains("unknown variant `tomee`"), "{e}");
    assert!(e.contains("tome_ordered"), "lists the choices: {e}");
}

#[test]
fn bad_ratios_are_named() {
    let e = err(&tiny().replace("ratios = [1.0, 0.5, 0.25]", "ratios = [1.0, 0.5]"));
    assert!(e.contains("dropout.ratios"), "{e}");
    assert!(e.contains("expected 3 ratios"), "{e}");
}

#[test]
fn bad_toml_syntax_names_line() {
    let e = err("name = \"x\"\n[video\n");
    assert!(e.starts_with("configs/bad.toml"), "{e}");
    assert!(e.contains("line 2"), "{e}");
}

#[test]
fn dropout_defaults_follow_reference() {
    let text = tiny().replace("layers = [1, 3]\nratios = [1.0, 0.5, 0.25]\n", "");
    let c: PipelineConfig = parse_toml(&text, Path::new("x.toml")).unwrap();
    match c.dropout {
        DropoutConfig::Uniform0Attention(s) => {
            assert_eq!(s.layers, vec![8, 16, 24]);
            assert_eq!(s.ratios, vec![1.0, 0.5, 0.25, 0.125]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn dynamic_fps_and_pil_resize_parse_with_release_defaults() {
    use hico_core::config::{ResizeKind, SamplerConfig};
    let text = tiny()
        .replace("[video]\n", "[video]\nresize = \"pil_bicubic\"\n")
        .replace(&sampler_section(), "[sampler]\nkind = \"dynamic_fps\"\n");
    let c: PipelineConfig = parse_toml(&text, Path::new("t.toml")).unwrap();
    c.validate(Path::new("t.toml")).unwrap();
    assert_eq!(c.video.resize, ResizeKind::PilBicubic);
    assert_eq!(
        c.sampler,
        SamplerConfig::DynamicFps {
            min_frames: 64,
            max_frames: 512,
            frame_multiple: 8
        }
    );
    let e = err(&text.replace("clip_len = 4", "clip_len = 3"));
    assert!(e.contains("sampler.frame_multiple"), "{e}");
    let e = err(&text.replace(
        "kind = \"dynamic_fps\"",
        "kind = \"dynamic_fps\"\nmin_frames = 600",
    ));
    assert!(
        e.contains("sampler.min_frames") && e.contains("600 > max_frames = 512"),
        "{e}"
    );
    let e = err(&text.replace("pil_bicubic", "pil_bicubik"));
    assert!(
        e.contains("video.resize") && e.contains("unknown variant"),
        "{e}"
    );
}

/// The `[sampler]` section of tiny.toml, up to the next section.
fn sampler_section() -> String {
    let t = tiny();
    let start = t.find("[sampler]").expect("tiny.toml has [sampler]");
    let end = t[start + 1..]
        .find("\n[")
        .map_or(t.len(), |e| start + 2 + e);
    t[start..end].to_string()
}
