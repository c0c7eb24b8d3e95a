//! Listed cells (`[[cells]]` in an experiment file): cells that are not a cartesian product,
//! each setting several dotted keys at once, e.g. a clip compressor and a whole-video method
//! together.
//!
//! ```toml
//! [[cells]]
//! name = "visionzip-4"                   # optional: default the labels joined by `__`
//! set = { "compressor" = { kind = "identity" }, "video_compressor" = { kind = "visionzip", dominant = 3, contextual = 1 } }
//! ```
//!
//! They come after the grid's cells; a file with `[[cells]]` and no `[grid]` has only them.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::experiment::{Cell, label, resolve_config};
use crate::EvalError;

/// One listed cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellSpec {
    /// The cell's name (its folder); default: the values' labels joined by `__`, in the
    /// keys' sorted order.
    #[serde(default)]
    pub name: Option<String>,
    /// Dotted key → value, applied after the experiment's `[overrides]`.
    pub set: toml::Table,
}

/// The listed cells of an experiment file `path` over `base` with `overrides`, configs
/// resolved and validated; a name already in `taken` (the grid's cells) or given twice, an
/// empty `set` or a name that is not folder-safe is an error naming `cells[i]`.
pub fn listed_cells(
    base: &Path,
    overrides: &toml::Table,
    specs: &[CellSpec],
    path: &Path,
    taken: &[Cell],
) -> Result<Vec<Cell>, EvalError> {
    let mut out: Vec<Cell> = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let bad = |key: &str, message: String| EvalError::Spec {
            path: path.into(),
            key: format!("cells[{i}].{key}"),
            message,
        };
        if spec.set.is_empty() {
            return Err(bad("set", "must set at least one dotted key".into()));
        }
        let values: Vec<(String, toml::Value)> = spec
            .set
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let labels: Vec<(String, String)> =
            values.iter().map(|(k, v)| (k.clone(), label(v))).collect();
        let name = match &spec.name {
            Some(n) => {
                if n.is_empty() || n.starts_with('.') || hico_core::file_safe(n) != *n {
                    return Err(bad(
                        "name",
                        format!("{n:?} is not a folder-safe name (letters, digits, _ . and -)"),
                    ));
                }
                n.clone()
            }
            None => labels
                .iter()
                .map(|(_, l)| hico_core::file_safe(l))
                .collect::<Vec<_>>()
                .join("__"),
        };
        if taken.iter().chain(&out).any(|c| c.name == name) {
            return Err(bad("name", format!("`{name}` names another cell")));
        }
        let config = resolve_config(base, overrides, path, &values).map_err(|e| match e {
            // The grid's wording (`grid.<key>`) would point at the wrong table.
            EvalError::Spec { key, message, .. } => bad(&key.replace("grid.", "set."), message),
            other => bad("set", other.to_string()),
        })?;
        out.push(Cell {
            name,
            values,
            labels,
            config,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ablate::Experiment;

    fn tiny() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/tiny.toml")
    }

    fn write(dir: &Path, body: &str) -> std::path::PathBuf {
        let p = dir.join("e.toml");
        let text = format!(
            "base = {:?}\n[benchmark]\nkind = \"niah\"\nframes = [16]\ndepths = [0.0]\n{body}",
            tiny()
        );
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn listed_cells_set_several_keys_and_follow_the_grid() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(
            dir.path(),
            "[grid]\n\"compressor\" = [{ kind = \"tome\", tokens_per_frame = 4 }]\n\
             [[cells]]\nset = { \"compressor\" = { kind = \"identity\" }, \
             \"video_compressor\" = { kind = \"random\", retention_ratio = 0.25 } }\n\
             [[cells]]\nname = \"plain\"\nset = { \"compressor\" = { kind = \"identity\" } }\n",
        );
        let exp = Experiment::load(&p).unwrap();
        let cells = exp.cells(&p).unwrap();
        let names: Vec<&str> = cells.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["tome-4", "identity__random-0.25", "plain"]);
        assert_eq!(cells[1].config.compressor.kind(), "identity");
        assert_eq!(cells[1].config.video_compressor.kind(), "random");
        // Keys not set keep the base's value.
        assert_eq!(cells[2].config.video_compressor.kind(), "none");
    }

    #[test]
    fn listed_cells_alone_and_their_errors() {
        let dir = tempfile::tempdir().unwrap();
        let only = write(
            dir.path(),
            "[[cells]]\nname = \"a\"\nset = { \"compressor\" = { kind = \"identity\" } }\n",
        );
        let exp = Experiment::load(&only).unwrap();
        let names: Vec<String> = exp
            .cells(&only)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["a"]);
        for (body, key) in [
            ("[[cells]]\nset = {}\n", "cells[0].set"),
            (
                "[[cells]]\nname = \"a/b\"\nset = { \"compressor\" = { kind = \"identity\" } }\n",
                "cells[0].name",
            ),
            (
                "[[cells]]\nname = \"a\"\nset = { \"compressor\" = { kind = \"identity\" } }\n\
                 [[cells]]\nname = \"a\"\nset = { \"compressor\" = { kind = \"identity\" } }\n",
                "cells[1].name",
            ),
            (
                "[[cells]]\nset = { \"compressor\" = { kind = \"nope\" } }\n",
                "cells[0]",
            ),
        ] {
            let p = write(dir.path(), body);
            let err = Experiment::load(&p)
                .and_then(|e| e.cells(&p))
                .unwrap_err()
                .to_string();
            assert!(err.contains(key), "{body}: {err}");
        }
    }
}
