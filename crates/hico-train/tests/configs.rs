//! Every stage config in `configs/train/` loads, validates, and its pipeline resolves with
//! the stage's frame bounds; the stage table of docs/design.md holds.

use std::path::Path;

use hico_core::config::SamplerConfig;
use hico_train::StageConfig;

fn load(name: &str) -> StageConfig {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let s = StageConfig::load(&root.join("configs/train").join(name)).unwrap();
    let p = hico_model::load_config(&root.join(&s.pipeline)).unwrap();
    let sp = s.stage_pipeline(&p).unwrap();
    assert_eq!(
        sp.sampler,
        SamplerConfig::Duration {
            t_min: s.frames.t_min,
            t_max: s.frames.t_max
        }
    );
    s
}

#[test]
fn stage_configs_follow_the_reference_table() {
    let s1 = load("stage1_align.toml");
    assert_eq!(s1.lr.trainable(), vec![("connector", 1e-3)]);
    assert_eq!((s1.frames.t_min, s1.frames.t_max), (4, 4));
    let s2 = load("stage2_short.toml");
    assert_eq!(s2.lr.encoder, Some(2e-6));
    assert_eq!(s2.lr.llm, Some(1e-5));
    assert_eq!((s2.frames.t_min, s2.frames.t_max), (4, 8));
    let s3 = load("stage3_long.toml");
    assert_eq!((s3.frames.t_min, s3.frames.t_max), (64, 512));
    let s4 = load("stage4_hires.toml");
    assert_eq!(s4.lr.llm, None, "stage 4 freezes the LLM");
    assert_eq!(s4.frames.resolution, Some(448));
    for s in [&s1, &s2, &s3, &s4] {
        assert_eq!(s.optim.warmup_fraction, 0.03);
        assert_eq!(s.epochs, 1);
    }
    load("tiny_synth.toml");
}
