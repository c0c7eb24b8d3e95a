//! Release-format directories: a small random model written with the release's keys and
//! config fields ([`write_release`]) loads back through `[model]` with identical outputs
//! (f32 exactly; bf16 as bf16-rounded weights), single-file or sharded; a checkpoint that
//! does not match lists every missing, unexpected and mis-shaped tensor of all three parts
//! in one error.

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use hico_backend::{Cpu, cpu_device};
use hico_core::config::{DropoutConfig, PipelineConfig, parse_toml};
use hico_core::{LanguageModel, PrefillInput};
use hico_model::release::release_pipeline;
use hico_model::release::{ExportOptions, write_release};
use hico_model::{ModelError, Pipeline, materialize};
use hico_weights::{SaveDtype, WeightError};

fn tokenizer() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/byte_tokenizer.json")
}

/// A tiny model the release format can hold: 224-px UMT-style tower (3 blocks, 2 run),
/// ToMe to 16 per frame, MLP projector, Qwen2 decoder, uniform0_attention drop.
fn tiny() -> PipelineConfig {
    let text = format!(
        r#"
seed = 7
[video]
size = 224
clip_len = 4
[sampler]
kind = "uniform"
frames = 8
[vision]
width = 32
depth = 3
heads = 2
output_blocks = 2
[compressor]
kind = "tome"
tokens_per_frame = 16
[llm]
kind = "random"
hidden_size = 32
intermediate_size = 64
num_hidden_layers = 2
num_attention_heads = 4
num_key_value_heads = 2
tie_word_embeddings = false
tokenizer = "{}"
[dropout]
kind = "uniform0_attention"
layers = [1]
ratios = [1.0, 0.5]
"#,
        tokenizer().display()
    );
    parse_toml(&text, Path::new("tiny.toml")).unwrap()
}

fn export(pipe: &mut Pipeline<Cpu>, dir: &Path, opts: ExportOptions) {
    let cfg = pipe.cfg.clone();
    write_release(&mut pipe.model, &cfg, &tokenizer(), dir, &opts).unwrap();
}

/// Visual embeddings of two random clips and the prefill logits of a prompt around them.
fn outputs(pipe: &Pipeline<Cpu>) -> (Vec<f32>, Vec<f32>) {
    let dev = cpu_device();
    // Fixed pixel values, not the backend's global random generator: the tests of this file
    // run in parallel, and another test's draws between a `seed` and a `random` here would
    // give the two calls of one test different clips.
    let shape = [2, 4, 3, 224, 224];
    let values: Vec<f32> = (0..shape.iter().product::<usize>() as u64)
        .map(|i| ((i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40) % 2001) as f32 / 1000.0 - 1.0)
        .collect();
    let clips = Tensor::<Cpu, 5>::from_data(burn::tensor::TensorData::new(values, shape), &dev);
    let comp = &*pipe.compressor;
    let v = pipe.model.visual_embeds(clips, comp, 0);
    let plan = hico_core::FramePlan {
        indices: (0..8).collect(),
        timestamps: (0..8).map(|i| i as f64).collect(),
        duration: 8.0,
    };
    let prompt = pipe.prompt(&plan, "What moves?");
    let input: PrefillInput<Cpu> = pipe.prefill_input(&prompt, v.embeds.clone(), Vec::new());
    let logits = pipe.model.llm.prefill(input).0.last_logits;
    let f = |t: Tensor<Cpu, 2>| t.into_data().into_vec::<f32>().unwrap();
    (f(v.embeds), f(logits))
}

fn load(dir: &Path) -> Result<Pipeline<Cpu>, ModelError> {
    let cfg = release_pipeline(dir)?;
    Pipeline::new(cfg, &cpu_device())
}

#[test]
fn a_written_release_loads_back_with_identical_outputs() {
    let mut pipe = Pipeline::<Cpu>::new(tiny(), &cpu_device()).unwrap();
    materialize(&pipe.model);
    let want = outputs(&pipe);
    for shard in [None, Some(20_000)] {
        let dir = tempfile::tempdir().unwrap();
        export(
            &mut pipe,
            dir.path(),
            ExportOptions {
                max_shard_bytes: shard,
                ..Default::default()
            },
        );
        assert_eq!(
            dir.path().join("model.safetensors.index.json").exists(),
            shard.is_some()
        );
        // Fields and tensors the official constructors need beyond the computing keys.
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(json["tokenizer_model_max_length"], i64::MAX, "no limit");
        assert_eq!(json["tokenizer_padding_side"], "right");
        assert_eq!(json["mm_pos_num_frames"], 4);
        assert!(json["auto_map"]["AutoModel"].is_string());
        let files = hico_weights::WeightFiles::open_dir(dir.path()).unwrap();
        let head = files.read_f32("visual_head.weight").unwrap();
        assert_eq!(head.len(), 32 * 32, "[mm_hidden, hidden]");
        assert!(head.iter().all(|&x| x == 0.0));
        let tvg = files
            .read_f32("model.mm_projector.tvg_mlp.2.weight")
            .unwrap();
        assert_eq!(tvg.len(), 32 * 32);
        let mut back = load(dir.path()).unwrap();
        let c = &back.cfg;
        assert_eq!(c.vision, pipe.cfg.vision, "vision section from config.json");
        assert_eq!(c.compressor, pipe.cfg.compressor);
        assert_eq!(c.dropout, pipe.cfg.dropout);
        assert_eq!((c.video.size, c.video.clip_len), (224, 4));
        // The same weights: the same numbers.
        back.cfg.prompt = pipe.cfg.prompt.clone();
        assert_eq!(outputs(&back), want);
    }
}

#[test]
fn bf16_release_holds_bf16_rounded_weights() {
    let mut pipe = Pipeline::<Cpu>::new(tiny(), &cpu_device()).unwrap();
    materialize(&pipe.model);
    let dir = tempfile::tempdir().unwrap();
    export(
        &mut pipe,
        dir.path(),
        ExportOptions {
            dtype: SaveDtype::Bf16,
            ..Default::default()
        },
    );
    let back = load(dir.path()).unwrap();
    let round = |t: Tensor<Cpu, 2>| -> Vec<f32> {
        t.into_data()
            .into_vec::<f32>()
            .unwrap()
            .into_iter()
            .map(|x| half::bf16::from_f32(x).to_f32())
            .collect()
    };
    let got = |t: Tensor<Cpu, 2>| t.into_data().into_vec::<f32>().unwrap();
    let hico_vision::Connector::Mlp2xGelu(a) = &pipe.model.connector else {
        panic!()
    };
    let hico_vision::Connector::Mlp2xGelu(b) = &back.model.connector else {
        panic!()
    };
    assert_eq!(got(b.linear_1.weight.val()), round(a.linear_1.weight.val()));
    let text = std::fs::read_to_string(dir.path().join("config.json")).unwrap();
    assert!(text.contains("\"torch_dtype\": \"bfloat16\""), "{text}");
}

#[test]
fn mismatched_checkpoints_list_every_tensor_of_every_part() {
    let mut pipe = Pipeline::<Cpu>::new(tiny(), &cpu_device()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    export(&mut pipe, dir.path(), ExportOptions::default());
    // Ask for all 3 tower blocks (only 2 stored), one decoder layer (2 stored), and a wider
    // projector input (mm_hidden_size must match the tower, so change the tower's width).
    let path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    cfg["mm_vision_select_layer"] = (-1).into();
    cfg["num_hidden_layers"] = 1.into();
    // No drop: one decoder layer leaves no layer to drop after (a config error of its own).
    cfg["mm_llm_compress"] = false.into();
    std::fs::write(&path, cfg.to_string()).unwrap();
    let err = match load(dir.path()) {
        Err(ModelError::Weights(e)) => e,
        Err(e) => panic!("expected a tensor list, got {e}"),
        Ok(_) => panic!("loaded a mismatched checkpoint"),
    };
    let WeightError::Tensors {
        missing,
        unexpected,
        mismatched,
        ..
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(missing.len(), 13, "{missing:?}");
    assert!(
        missing
            .iter()
            .all(|k| k.starts_with("model.vision_tower.vision_tower.encoder.blocks.2."))
    );
    assert!(!unexpected.is_empty());
    assert!(
        unexpected.iter().all(|k| k.starts_with("model.layers.1.")),
        "{unexpected:?}"
    );
    assert!(mismatched.is_empty());
}

#[test]
fn releases_refuse_settings_they_cannot_express() {
    let mut cfg = tiny();
    cfg.dropout = toml::from_str::<DropoutConfig>("kind = \"fastv\"\nlayer = 1").unwrap();
    let mut pipe = Pipeline::<Cpu>::new(cfg, &cpu_device()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = pipe.cfg.clone();
    let err = write_release(
        &mut pipe.model,
        &cfg,
        &tokenizer(),
        dir.path(),
        &Default::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("dropout.kind"), "{err}");
}
