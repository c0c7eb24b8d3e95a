//! An ablation experiment file: a base pipeline config, overrides, a benchmark, optional
//! training, and a grid over dotted config keys; and its expansion into named cells, each
//! with its resolved [`PipelineConfig`].
//!
//! ```toml
//! name = "mh_niah_tiny"
//! base = "configs/tiny.toml"            # relative paths: to the current directory
//! [overrides]                           # dotted keys applied to the base first
//! "sampler" = { kind = "uniform", frames = 48 }
//! [benchmark]                           # a `BenchSpec`
//! kind = "mh_niah"
//! frames = [48, 96]
//! [train]                               # optional: train once, cache the checkpoint
//! stage = "experiments/mh_niah_tiny/stage.toml"
//! data_repeats = 40
//! [grid]                                # cartesian product, keys in sorted order
//! "compressor" = [{ kind = "tome", tokens_per_frame = 4 }, { kind = "pool", tokens_per_frame = 4 }]
//! "dropout" = [{ kind = "none" }, { kind = "uniform", layers = [2], ratios = [1.0, 0.25] }]
//! ```

use std::path::{Path, PathBuf};

use hico_core::config::{PipelineConfig, load_toml, pipeline_from_toml, set_dotted};
use hico_model::release::Formats;
use serde::{Deserialize, Serialize};

use super::listed::{CellSpec, listed_cells};
use crate::{EvalError, bench::BenchSpec};

/// An experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Name (default output folder `runs/<name>`).
    #[serde(default)]
    pub name: String,
    /// The base pipeline config (TOML).
    pub base: PathBuf,
    /// Output folder (default `runs/<name>`).
    #[serde(default)]
    pub out: Option<PathBuf>,
    /// Dotted keys set on the base before any grid value.
    #[serde(default)]
    pub overrides: toml::Table,
    /// The benchmark every cell runs on.
    pub benchmark: BenchSpec,
    /// Train a model once before the grid (absent: random initialisation).
    #[serde(default)]
    pub train: Option<TrainSpec>,
    /// Scoring options.
    #[serde(default)]
    pub score: ScoreSpec,
    /// Dotted key → list of values; every combination is a cell (may be left out when
    /// `[[cells]]` lists the cells).
    #[serde(default)]
    pub grid: toml::Table,
    /// Listed cells (`[[cells]]`), each setting several keys at once; after the grid's.
    #[serde(default, rename = "cells")]
    pub listed: Vec<CellSpec>,
    /// Cells to compare on the same questions (exact McNemar test), `[[paired]]` tables.
    #[serde(default)]
    pub paired: Vec<PairSpec>,
}

/// Two cells compared on the same questions (`[[paired]]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairSpec {
    /// The claim under test, in words (e.g. `ToMe keeps more than pooling at 1 token/frame`).
    pub claim: String,
    /// The cell the claim expects to be better (a cell name, e.g. `tome-1__none`).
    pub a: String,
    /// The cell it is compared with.
    pub b: String,
}

/// Training before the grid.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// A hico-train stage config; its `data` is replaced by the generated training set.
    pub stage: PathBuf,
    /// Seed of the training set (must differ from the benchmark's).
    #[serde(default = "default_data_seed")]
    pub data_seed: u64,
    /// Questions per (frames, depth) cell of the training set.
    pub data_repeats: usize,
    /// Keys of `[benchmark]` set differently for the training set (e.g. `decoys = 0`: an
    /// easier curriculum of the same kind).
    #[serde(default)]
    pub benchmark_overrides: toml::Table,
    /// Easier phases trained first, in order (`[[train.curriculum]]`): each starts from the
    /// previous phase's weights, and the main phase above starts from the last one's.
    #[serde(default)]
    pub curriculum: Vec<PhaseSpec>,
    /// Training seeds (default `[0]`): one model is trained per seed (`OUT/seed-<s>/`) and
    /// every cell is scored with each. Seed `s` adds `s` to the base config's `seed` (the
    /// weight initialisation) and to the stage's `seed` (data order, per-step randomness),
    /// and `SEED_STRIDE · s` to the seeds of every training set (other questions); seed 0 is
    /// the recipe as written.
    #[serde(default = "default_seeds")]
    pub seeds: Vec<u64>,
}

/// How far apart the training sets of two seeds are seeded (`data_seed + SEED_STRIDE · s`;
/// the curriculum phases use the next seeds after each).
pub const SEED_STRIDE: u64 = 1_000;

fn default_seeds() -> Vec<u64> {
    vec![0]
}

/// One curriculum phase (`[[train.curriculum]]`): its own training set of the benchmark's
/// kind and, optionally, its own length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhaseSpec {
    /// Folder-safe name of the phase (`OUT/curriculum/<name>/`).
    pub name: String,
    /// Questions per (frames, depth) cell of the phase's training set.
    pub data_repeats: usize,
    /// Keys of `[benchmark]` set differently for this phase (e.g. `frames = [4, 8]`).
    #[serde(default)]
    pub benchmark_overrides: toml::Table,
    /// Epochs of this phase (default: the stage's).
    #[serde(default)]
    pub epochs: Option<usize>,
}

impl TrainSpec {
    /// The spec as seed `seed` trains it: every training set reseeded by
    /// `SEED_STRIDE · seed` (the base config's and the stage's seeds are offset by the
    /// trainer, [`crate::ablate::ensure_trained`]).
    pub fn for_seed(&self, seed: u64) -> TrainSpec {
        TrainSpec {
            data_seed: self.data_seed + SEED_STRIDE * seed,
            ..self.clone()
        }
    }

    /// The training set's spec: the benchmark's with `data_seed`, `data_repeats` and
    /// `benchmark_overrides`; errors name `path` and the key.
    pub fn data_spec(&self, bench: &BenchSpec, path: &Path) -> Result<BenchSpec, EvalError> {
        derived_spec(
            bench,
            self.data_seed,
            self.data_repeats,
            &self.benchmark_overrides,
            path,
            "train.benchmark_overrides",
        )
    }

    /// The training set of curriculum phase `k`: seeded `data_seed + 1 + k` (so no phase
    /// repeats another's or the main phase's questions), with the phase's repeats and
    /// overrides on top of the main phase's overrides.
    pub fn phase_spec(
        &self,
        k: usize,
        bench: &BenchSpec,
        path: &Path,
    ) -> Result<BenchSpec, EvalError> {
        let phase = &self.curriculum[k];
        let mut overrides = self.benchmark_overrides.clone();
        overrides.extend(phase.benchmark_overrides.clone());
        derived_spec(
            bench,
            self.data_seed + 1 + k as u64,
            phase.data_repeats,
            &overrides,
            path,
            &format!("train.curriculum.{}.benchmark_overrides", phase.name),
        )
    }

    /// Errors of the curriculum that show before any work: empty or repeated phase names,
    /// names that are not folder-safe, zero repeats or epochs.
    pub fn validate(&self, path: &Path) -> Result<(), EvalError> {
        let bad = |key: String, message: String| EvalError::Spec {
            path: path.into(),
            key,
            message,
        };
        let mut seeds = self.seeds.clone();
        seeds.sort_unstable();
        seeds.dedup();
        if self.seeds.is_empty() || seeds.len() != self.seeds.len() {
            return Err(bad(
                "train.seeds".into(),
                format!("{:?} must list at least one seed, each once", self.seeds),
            ));
        }
        if self.curriculum.len() as u64 >= SEED_STRIDE {
            return Err(bad(
                "train.curriculum".into(),
                format!("at most {} phases", SEED_STRIDE - 1),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (k, p) in self.curriculum.iter().enumerate() {
            let key = |f: &str| format!("train.curriculum[{k}].{f}");
            let safe = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if p.name.is_empty() || !p.name.chars().all(safe) {
                return Err(bad(
                    key("name"),
                    format!(
                        "{:?} is not a folder-safe name (letters, digits, _ and -)",
                        p.name
                    ),
                ));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(bad(key("name"), format!("{:?} names two phases", p.name)));
            }
            if p.data_repeats == 0 {
                return Err(bad(key("data_repeats"), "must be at least 1".into()));
            }
            if p.epochs == Some(0) {
                return Err(bad(key("epochs"), "must be at least 1".into()));
            }
        }
        Ok(())
    }
}

/// The benchmark's spec reseeded with `seed` and `repeats`, then `overrides` set on it.
fn derived_spec(
    bench: &BenchSpec,
    seed: u64,
    repeats: usize,
    overrides: &toml::Table,
    path: &Path,
    where_: &str,
) -> Result<BenchSpec, EvalError> {
    let bad = |key: &str, message: String| EvalError::Spec {
        path: path.into(),
        key: format!("{where_}.{key}"),
        message,
    };
    let mut value =
        toml::Value::try_from(bench.reseeded(seed, repeats)).map_err(|e| bad("", e.to_string()))?;
    for (k, v) in overrides {
        set_dotted(&mut value, k, v.clone()).map_err(|m| bad(k, m))?;
    }
    let spec: BenchSpec = value
        .try_into()
        .map_err(|e: toml::de::Error| bad("", e.to_string()))?;
    spec.validate(path)?;
    Ok(spec)
}

fn default_data_seed() -> u64 {
    1_000
}

/// Scoring options of an experiment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoreSpec {
    /// Also generate answers and score them by exact match (slower).
    pub free_form: bool,
    /// Capture attention at every layer in each cell's recorded run (first question).
    pub capture_attention: bool,
    /// Most unreadable questions a cell may skip (logged to the cell's `skipped.jsonl`,
    /// counted as wrong) before the cell fails; absent: a tenth of the set.
    pub max_skipped: Option<usize>,
    /// Cells whose first correctly and first wrongly answered questions are recorded in
    /// full (`cells/<cell>/examples/{correct,wrong}/`: run record and `question.json`), for
    /// the patch-overlay pictures.
    pub examples: Vec<String>,
}

/// One grid cell.
#[derive(Debug, Clone)]
pub struct Cell {
    /// Folder-safe name built from the values' labels.
    pub name: String,
    /// `(dotted key, value)` of this cell.
    pub values: Vec<(String, toml::Value)>,
    /// `(dotted key, label)` of this cell.
    pub labels: Vec<(String, String)>,
    /// The resolved, validated config.
    pub config: PipelineConfig,
}

impl Experiment {
    /// Load an experiment file; errors name the file and key.
    pub fn load(path: &Path) -> Result<Self, EvalError> {
        let exp: Self = load_toml(path)?;
        exp.benchmark.validate(path)?;
        if let Some(t) = &exp.train {
            t.validate(path)?;
        }
        for (key, v) in &exp.grid {
            match v.as_array() {
                Some(a) if !a.is_empty() => {}
                _ => {
                    return Err(EvalError::Spec {
                        path: path.into(),
                        key: format!("grid.{key}"),
                        message: "must be a non-empty array of values".into(),
                    });
                }
            }
        }
        Ok(exp)
    }

    /// The models the grid is scored with: the training seeds (`[train] seeds`), or one
    /// random initialisation (seed 0) without `[train]`.
    pub fn seeds(&self) -> Vec<u64> {
        self.train
            .as_ref()
            .map_or_else(default_seeds, |t| t.seeds.clone())
    }

    /// The output folder.
    pub fn out_dir(&self) -> PathBuf {
        self.out.clone().unwrap_or_else(|| {
            let name = if self.name.is_empty() {
                "ablation"
            } else {
                &self.name
            };
            PathBuf::from("runs").join(name)
        })
    }

    /// The base config with the overrides applied (no grid value), validated.
    pub fn base_config(&self, path: &Path) -> Result<PipelineConfig, EvalError> {
        self.resolve(path, &[])
    }

    /// Every cell of the grid, configs resolved and validated; errors name the experiment
    /// file and the key.
    pub fn cells(&self, path: &Path) -> Result<Vec<Cell>, EvalError> {
        let mut cells = match self.grid.is_empty() && !self.listed.is_empty() {
            true => Vec::new(),
            false => expand_grid(&self.base, &self.overrides, &self.grid, path)?,
        };
        let listed = listed_cells(&self.base, &self.overrides, &self.listed, path, &cells)?;
        cells.extend(listed);
        Ok(cells)
    }

    /// The base config with the overrides, then `values` (dotted key, value) applied,
    /// validated; errors name the experiment file and key.
    pub(crate) fn resolve(
        &self,
        path: &Path,
        values: &[(String, toml::Value)],
    ) -> Result<PipelineConfig, EvalError> {
        resolve_config(&self.base, &self.overrides, path, values)
    }
}

/// Every cell of a grid over `base` with `overrides` (the `[grid]` and `[overrides]` tables of
/// an experiment file `path`), configs resolved and validated; errors name the file and key.
pub fn expand_grid(
    base: &Path,
    overrides: &toml::Table,
    grid: &toml::Table,
    path: &Path,
) -> Result<Vec<Cell>, EvalError> {
    let axes: Vec<(&String, &Vec<toml::Value>)> = grid
        .iter()
        .map(|(k, v)| (k, v.as_array().expect("validated in load")))
        .collect();
    let mut combos: Vec<Vec<(String, toml::Value)>> = vec![Vec::new()];
    for (key, values) in &axes {
        combos = combos
            .into_iter()
            .flat_map(|c| {
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push(((*key).clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    let mut cells: Vec<Cell> = Vec::with_capacity(combos.len());
    for values in combos {
        let config = resolve_config(base, overrides, path, &values)?;
        let labels: Vec<(String, String)> =
            values.iter().map(|(k, v)| (k.clone(), label(v))).collect();
        let mut name = labels
            .iter()
            .map(|(_, l)| hico_core::file_safe(l))
            .collect::<Vec<_>>()
            .join("__");
        if name.is_empty() {
            name = "base".into();
        }
        if cells.iter().any(|c| c.name == name) {
            name = format!("{name}__{}", cells.len());
        }
        cells.push(Cell {
            name,
            values,
            labels,
            config,
        });
    }
    Ok(cells)
}

/// `base` with `overrides`, then `values` (dotted key, value) applied, validated.
pub fn resolve_config(
    base: &Path,
    overrides: &toml::Table,
    path: &Path,
    values: &[(String, toml::Value)],
) -> Result<PipelineConfig, EvalError> {
    let text = std::fs::read_to_string(base).map_err(EvalError::io(base))?;
    let mut root: toml::Value = toml::from_str(&text).map_err(|e| {
        EvalError::Config(hico_core::ConfigError::Parse {
            path: base.to_path_buf(),
            message: e.message().to_string(),
        })
    })?;
    let overrides = overrides
        .iter()
        .map(|(k, v)| (format!("overrides.{k}"), k, v));
    let grid = values.iter().map(|(k, v)| (format!("grid.{k}"), k, v));
    for (where_, key, v) in overrides.chain(grid) {
        set_dotted(&mut root, key, v.clone()).map_err(|message| EvalError::Spec {
            path: path.into(),
            key: where_,
            message,
        })?;
    }
    let exp_text = std::fs::read_to_string(path).unwrap_or_default();
    let cfg = pipeline_from_toml(root, &exp_text, path, &Formats)?;
    hico_model::validate_config(&cfg, path)?;
    Ok(cfg)
}

/// A short label of a grid value: a table's `kind` then its other values, arrays joined
/// by `_`, e.g. `{kind = "uniform", layers = [2], ratios = [1.0, 0.25]}` → `uniform-2-1_0.25`.
pub fn label(v: &toml::Value) -> String {
    use toml::Value::*;
    match v {
        String(s) => s.clone(),
        Integer(i) => i.to_string(),
        Float(f) => format!("{f}"),
        Boolean(b) => b.to_string(),
        Datetime(d) => d.to_string(),
        Array(a) => a.iter().map(label).collect::<Vec<_>>().join("_"),
        Table(t) => {
            let kind = t.get("kind").map(label);
            kind.into_iter()
                .chain(
                    t.iter()
                        .filter(|(k, _)| *k != "kind")
                        .map(|(_, x)| label(x)),
                )
                .collect::<Vec<_>>()
                .join("-")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_short_and_stable() {
        let v: toml::Value = toml::from_str::<toml::Table>(
            "x = { kind = \"uniform\", layers = [2], ratios = [1.0, 0.25] }",
        )
        .unwrap()["x"]
            .clone();
        assert_eq!(label(&v), "uniform-2-1_0.25");
        assert_eq!(hico_core::file_safe("a b/c"), "a_b_c");
    }

    #[test]
    fn training_set_spec_takes_seed_repeats_and_overrides() {
        let bench: BenchSpec = toml::from_str(
            "kind = \"mh_niah\"\nframes = [32]\ndecoys = 1\ndistractors = 1\nmax_hops = 6\nseed = 1",
        )
        .unwrap();
        let mut t = TrainSpec {
            stage: "s.toml".into(),
            data_seed: 9,
            data_repeats: 5,
            benchmark_overrides: toml::from_str("decoys = 0").unwrap(),
            curriculum: Vec::new(),
            seeds: vec![0],
        };
        match t.data_spec(&bench, "e.toml".as_ref()).unwrap() {
            BenchSpec::MhNiah(m) => assert_eq!((m.seed, m.repeats, m.decoys), (9, 5, 0)),
            other => panic!("{other:?}"),
        }
        t.benchmark_overrides = toml::from_str("decoys = \"x\"").unwrap();
        let err = t
            .data_spec(&bench, "e.toml".as_ref())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("e.toml") && err.contains("train.benchmark_overrides"),
            "{err}"
        );
    }

    #[test]
    fn curriculum_phases_reseed_and_layer_their_overrides() {
        let bench: BenchSpec =
            toml::from_str("kind = \"object\"\nframes = [16, 32]\nobject_size = 20\nseed = 1")
                .unwrap();
        let t: TrainSpec = toml::from_str(
            "stage = \"s.toml\"\ndata_seed = 9\ndata_repeats = 5\n\
             benchmark_overrides = { frames = [4, 16] }\n\
             [[curriculum]]\nname = \"big\"\ndata_repeats = 3\n\
             benchmark_overrides = { object_size = 32 }\n\
             [[curriculum]]\nname = \"short\"\ndata_repeats = 2\nepochs = 1\n\
             benchmark_overrides = { frames = [4] }",
        )
        .unwrap();
        t.validate("e.toml".as_ref()).unwrap();
        let specs: Vec<_> = (0..2)
            .map(
                |k| match t.phase_spec(k, &bench, "e.toml".as_ref()).unwrap() {
                    BenchSpec::Object(o) => (o.seed, o.repeats, o.frames, o.object_size),
                    other => panic!("{other:?}"),
                },
            )
            .collect();
        // Phase overrides sit on top of the main phase's; seeds differ from every other set.
        assert_eq!(specs[0], (10, 3, vec![4, 16], 32));
        assert_eq!(specs[1], (11, 2, vec![4], 20));
        let mut dup = t.clone();
        dup.curriculum[1].name = "big".into();
        let err = dup.validate("e.toml".as_ref()).unwrap_err().to_string();
        assert!(err.contains("train.curriculum[1].name"), "{err}");
        let mut unsafe_name = t.clone();
        unsafe_name.curriculum[0].name = "../x".into();
        assert!(unsafe_name.validate("e.toml".as_ref()).is_err());
        // Seeds: one by default; each reseeds every training set, seed 0 keeps the recipe.
        assert_eq!(t.seeds, vec![0]);
        assert_eq!(t.for_seed(0), t);
        let s2 = t.for_seed(2);
        match s2.phase_spec(1, &bench, "e.toml".as_ref()).unwrap() {
            BenchSpec::Object(o) => assert_eq!(o.seed, 9 + 2 * SEED_STRIDE + 2),
            other => panic!("{other:?}"),
        }
        for bad in [vec![], vec![1, 1]] {
            let mut b = t.clone();
            b.seeds = bad;
            let err = b.validate("e.toml".as_ref()).unwrap_err().to_string();
            assert!(err.contains("train.seeds"), "{err}");
        }
    }
}
