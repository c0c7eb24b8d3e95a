//! Parity with the official VideoChat-Flash code, stage by stage, on the release-format
//! fixtures `tests/fixtures/release_{224,448}` (made by `scripts/make_release_fixture.py`
//! with the release's own `chat()`; docs/release-format.md). Each is loaded through
//! `[model]` exactly as published (bf16 weights, its config.json and
//! generation_config.json); only the call's own arguments are set as the fixture's call
//! set them (greedy, 12 new tokens). Checked: sampled indices, pixels (from the frames the
//! official reader decoded; the processor's f32 values, then the fp16 values `chat()` hands
//! the tower after `.half()`), vision-tower output, ToMe and projector outputs, prompt ids,
//! spliced embeddings and prefill logits within 1e-4 in f32, the greedy ids, and at 448 the
//! visual tokens kept at each drop layer.

use std::path::{Path, PathBuf};

use burn::tensor::Tensor;
use hico_backend::{Cpu, cpu_device};
use hico_core::VisionEncoder;
use hico_core::config::PixelDtype;
use hico_core::config::{PipelineConfig, parse_toml_value, pipeline_from_toml};
use hico_model::release::Formats;
use hico_model::{EncodedVideo, Pipeline};
use hico_video::{
    FrameReader, Frames, PassOrder, frames_to_tensor, frames_to_tensor_as, pil_bicubic,
};
use hico_weights::WeightFiles;
use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Largest |a − b|.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn vec2(t: Tensor<Cpu, 2>) -> Vec<f32> {
    t.into_data().into_vec::<f32>().unwrap()
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_i64().unwrap())
        .collect()
}

/// The pipeline of a fixture directory through `[model]`, with the fixture call's
/// generation arguments (`do_sample=False, max_new_tokens=12`).
fn pipeline(dir: &Path) -> Pipeline<Cpu> {
    let text = format!(
        "[model]\nkind = \"videochat_flash\"\npath = \"{}\"\n\
         [generation]\ntemperature = 0.0\nmax_new_tokens = 12\n",
        dir.display()
    );
    let path = Path::new("parity.toml");
    let cfg: PipelineConfig = pipeline_from_toml(
        parse_toml_value(&text, path).unwrap(),
        &text,
        path,
        &Formats,
    )
    .unwrap();
    hico_model::validate_config(&cfg, path).unwrap();
    Pipeline::new(cfg, &cpu_device()).unwrap()
}

/// The frames the official reader decoded (`frames_rgb` u8 [T, H, W, 3]).
fn decord_frames() -> (usize, usize, Vec<Vec<u8>>) {
    let bytes = std::fs::read(fixtures().join("release_video_frames.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let v = st.tensor("frames_rgb").unwrap();
    let [t, h, w, _] = v.shape().try_into().unwrap();
    let data = v.data();
    let n = h * w * 3;
    (
        h,
        w,
        (0..t).map(|i| data[i * n..(i + 1) * n].to_vec()).collect(),
    )
}

/// Check every stage of fixture `name`; hand back the pipeline, the encoded video, the
/// question and the expected tensors for further checks.
fn check(name: &str) -> (Pipeline<Cpu>, EncodedVideo<Cpu>, String, WeightFiles) {
    let dir = fixtures().join(name);
    let exp: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let tensors = WeightFiles::open(&[dir.join("expected.safetensors")]).unwrap();
    let want = |k: &str| tensors.read_f32(k).unwrap();
    let pipe = pipeline(&dir);
    let dev = cpu_device();
    let size = pipe.cfg.video.size;
    assert_eq!(
        size as i64,
        exp["image_size"].as_i64().unwrap(),
        "{name}: tower size"
    );

    // 1. Sampler, on the video itself.
    let video = fixtures().join("release_video.mp4");
    let info = *FrameReader::open(&video).unwrap().info();
    let plan = pipe.sampler.sample(&info).unwrap();
    let indices: Vec<i64> = plan.indices.iter().map(|&i| i as i64).collect();
    assert_eq!(
        indices,
        ints(&exp["frame_indices"]),
        "{name}: sampled indices"
    );

    // 2. Pixels: the release's resize and normalisation on the official reader's frames.
    let (h, w, rgb) = decord_frames();
    let mut data = Vec::with_capacity(rgb.len() * size * size * 3);
    for f in &rgb {
        data.extend(pil_bicubic(
            f,
            w,
            h,
            3,
            size,
            size,
            PassOrder::HorizontalFirst,
        ));
    }
    let frames = Frames {
        size,
        count: rgb.len(),
        data,
    };
    let (mean, std) = (pipe.cfg.video.mean, pipe.cfg.video.std);
    let s = size / 7;
    let subset = |pixels: &Tensor<Cpu, 4>| {
        let mut out = Vec::new();
        for f in [0, 32, 63] {
            let fr = pixels
                .clone()
                .narrow(0, f, 1)
                .into_data()
                .into_vec::<f32>()
                .unwrap();
            for c in 0..3 {
                for y in 0..s {
                    for x in 0..s {
                        out.push(fr[(c * size + 7 * y) * size + 7 * x]);
                    }
                }
            }
        }
        out
    };
    // The image processor's f32 output, bit for bit.
    let processed = frames_to_tensor::<Cpu>(&frames, mean, std, &dev); // [T, 3, S, S]
    let d = max_diff(&subset(&processed), &want("pixel_values_subset"));
    assert!(d == 0.0, "{name}: processor pixels max |diff| {d}");
    // What the tower sees: the release recipe rounds to f16 as chat()'s `.half()` does.
    assert_eq!(
        pipe.cfg.video.pixels,
        PixelDtype::F16,
        "{name}: pixel dtype"
    );
    let pixels = frames_to_tensor_as::<Cpu>(&frames, mean, std, pipe.cfg.video.pixels, &dev);
    let tower_in = subset(&pixels);
    let d = max_diff(&tower_in, &want("tower_input_subset"));
    assert!(d == 0.0, "{name}: tower input pixels max |diff| {d}");
    let d = max_diff(&tower_in, &want("pixel_values_subset"));
    assert!(d > 1e-4, "{name}: the f16 rounding changed nothing ({d})");

    // 3. Vision tower, ToMe, projector.
    let t = rgb.len();
    let l = pipe.cfg.video.clip_len;
    let clips = pixels.clone().reshape([t / l, l, 3, size, size]);
    let feats = pipe.model.encoder.encode(clips.clone().narrow(0, 0, 1));
    let d = max_diff(
        &feats.into_data().into_vec::<f32>().unwrap(),
        &want("vision_out_first_clip"),
    );
    assert!(d < 1e-4, "{name}: vision tower max |diff| {d}");
    let all = pipe.model.encoder.encode(clips);
    let grid = pipe.model.encoder.grid(l, size, size);
    let merged = pipe.compressor.compress(all, &grid).features;
    let d = max_diff(
        &merged.clone().into_data().into_vec::<f32>().unwrap(),
        &want("tome_out"),
    );
    assert!(d < 1e-4, "{name}: ToMe max |diff| {d}");
    let proj = pipe.model.connector.forward(merged);
    let d = max_diff(
        &proj.into_data().into_vec::<f32>().unwrap(),
        &want("projector_out"),
    );
    assert!(d < 1e-4, "{name}: projector max |diff| {d}");

    // 4. Prompt ids (the visual block is -200 in the release's ids) and spliced embeddings.
    let question = exp["question"].as_str().unwrap();
    let encoded = pipe
        .encode_frames(info, plan.clone(), None, |idx| {
            let k = indices.iter().position(|&i| i == idx[0] as i64).unwrap();
            Ok(pixels.clone().narrow(0, k, idx.len()))
        })
        .unwrap();
    let prompt = pipe.prompt(&plan, question);
    let mut ids: Vec<i64> = prompt.before.iter().map(|&i| i64::from(i)).collect();
    ids.push(-200);
    ids.extend(prompt.after.iter().map(|&i| i64::from(i)));
    assert_eq!(ids, ints(&exp["input_ids"]), "{name}: prompt ids");
    let input = pipe.prefill_input(&prompt, encoded.embeds.clone(), Vec::new());
    let [_, n, hidden] = input.embeds.dims();
    let d = max_diff(
        &vec2(input.embeds.reshape([n, hidden])),
        &want("inputs_embeds"),
    );
    assert!(d < 1e-4, "{name}: spliced embeddings max |diff| {d}");

    // 5. Prefill logits, greedy ids (with generation_config.json's repetition penalty),
    //    kept visual tokens per drop layer.
    let pre = pipe.prefill(&encoded, question, Vec::new()).unwrap();
    let d = max_diff(&vec2(pre.last_logits), &want("prefill_logits_last"));
    assert!(d < 1e-4, "{name}: prefill logits max |diff| {d}");
    let out = pipe.answer(&encoded, question, Vec::new(), |_| {}).unwrap();
    let got: Vec<i64> = out.answer_tokens.iter().map(|&i| i64::from(i)).collect();
    assert_eq!(got, ints(&exp["output_ids"]), "{name}: greedy ids");
    let mut prev: Vec<i64> = (0..encoded.embeds.dims()[0] as i64).collect();
    let kept = exp["kept"].as_array().unwrap();
    assert_eq!(out.trace.stages.len(), kept.len(), "{name}: drop stages");
    for (stage, k) in out.trace.stages.iter().zip(kept) {
        assert_eq!(stage.after_layer as i64, k["layer"].as_i64().unwrap());
        // The fixture's indices are within the block the stage started from.
        let want: Vec<i64> = ints(&k["kept"]).iter().map(|&i| prev[i as usize]).collect();
        let got: Vec<i64> = stage.kept.iter().map(|&i| i64::from(i)).collect();
        assert_eq!(got, want, "{name}: kept after layer {}", stage.after_layer);
        prev = got;
    }
    (pipe, encoded, question.to_owned(), tensors)
}

/// `tokenizer_model_max_length` keeps the HEAD of the spliced input (the release's
/// `new_input_embeds[:n]` after the visual rows are in): with a causal decoder the last
/// logits of an input cut to `n` rows are the uncut prefill's logits at row `n − 1`, which
/// the fixture stores every 16 rows (`prefill_logits_strided`).
fn truncation_keeps_the_head(
    name: &str,
    pipe: &mut Pipeline<Cpu>,
    encoded: &EncodedVideo<Cpu>,
    question: &str,
    tensors: &WeightFiles,
) {
    let strided = tensors.read_f32("prefill_logits_strided").unwrap();
    let vocab = pipe.model.llm.spec.vocab_size;
    let prompt = pipe.prompt(&encoded.plan, question);
    let visual_end = prompt.before.len() + encoded.embeds.dims()[0];
    // one cut in the text after the video, one inside the visual block
    for row in [1152, 1040] {
        pipe.cfg.prompt.max_input_len = Some(row + 1);
        let input = pipe
            .inference_input(&prompt, encoded.embeds.clone(), Vec::new())
            .unwrap();
        assert_eq!(input.embeds.dims()[1], row + 1, "{name}: cut length");
        assert_eq!(input.queries, vec![row], "{name}: query row");
        assert_eq!(
            input.visual_start + input.visual_len,
            visual_end.min(row + 1),
            "{name}: visual rows left"
        );
        let got = vec2(
            pipe.prefill(encoded, question, Vec::new())
                .unwrap()
                .last_logits,
        );
        let want = &strided[row / 16 * vocab..(row / 16 + 1) * vocab];
        let d = max_diff(&got, want);
        assert!(
            d < 1e-4,
            "{name}: logits of the input cut to {} rows: max |diff| {d}",
            row + 1
        );
    }
    pipe.cfg.prompt.max_input_len = None;
}

#[test]
fn release_224_matches_the_official_code() {
    let (mut pipe, encoded, question, tensors) = check("release_224");
    assert_eq!(
        pipe.cfg.prompt.max_input_len,
        Some(32768),
        "tokenizer_model_max_length"
    );
    truncation_keeps_the_head("release_224", &mut pipe, &encoded, &question, &tensors);
}

#[test]
fn release_448_matches_the_official_code() {
    let (mut pipe, encoded, question, _) = check("release_448");
    // With dropout the release ranks rows of the uncut input (and fails): hico refuses.
    pipe.cfg.prompt.max_input_len = Some(1153);
    let err = pipe
        .answer(&encoded, &question, Vec::new(), |_| {})
        .expect_err("a cut input with attention dropout must be refused")
        .to_string();
    assert!(
        err.contains("max_input_len") && err.contains("1190"),
        "{err}"
    );
}
