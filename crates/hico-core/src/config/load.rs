//! Loading TOML into config types, with errors that name the file, the dotted key, the
//! line and what was expected.

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::ConfigError;

/// Read and parse a TOML file into `T`. Errors name the file, the dotted key path, the
/// line, and what was expected (e.g. `configs/x.toml: compressor.tokens_per_frame (line 12):
/// invalid type: string "16", expected usize`).
pub fn load_toml<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_toml(&text, path)
}

/// Parse TOML text (already read from `path`, named in errors) into `T`.
pub fn parse_toml<T: DeserializeOwned>(text: &str, path: &Path) -> Result<T, ConfigError> {
    from_value(parse_toml_value(text, path)?, text, path)
}

/// Parse TOML text (read from `path`, named in errors) without a schema.
pub fn parse_toml_value(text: &str, path: &Path) -> Result<toml::Value, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.message().to_string() + &line_of(text, e.span()),
    })
}

/// Deserialize an already parsed TOML value (e.g. a base config with overrides merged in)
/// with the same error reporting. `text` is used only to find line numbers.
pub fn from_value<T: DeserializeOwned>(
    value: toml::Value,
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut key = e.path().to_string();
        let inner = e.into_inner().to_string();
        if key == "." {
            key.clear();
        }
        // serde reports an unknown field at its parent: name the field itself.
        if let Some(field) = inner
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
        {
            key = if key.is_empty() {
                field.to_string()
            } else {
                format!("{key}.{field}")
            };
        }
        let line = find_key_line(text, &key)
            .map(|l| format!(" (line {l})"))
            .unwrap_or_default();
        let message = if key.is_empty() {
            inner
        } else {
            format!("key `{key}`{line}: {inner}")
        };
        ConfigError::Parse {
            path: path.to_owned(),
            message,
        }
    })
}

fn line_of(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    span.map(|s| {
        format!(
            " (line {})",
            text[..s.start.min(text.len())].lines().count().max(1)
        )
    })
    .unwrap_or_default()
}

/// 1-based line of a dotted key (`a.b.leaf`): the `leaf = ...` line inside the `[a.b]`
/// table (or at the top for a bare key), or the `[a.b.leaf]` header.
fn find_key_line(text: &str, dotted: &str) -> Option<usize> {
    if dotted.is_empty() {
        return None;
    }
    let (table, leaf) = dotted.rsplit_once('.').unwrap_or(("", dotted));
    let mut current = String::new();
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim();
        if let Some(h) = l.strip_prefix('[').and_then(|h| h.split(']').next()) {
            current = h.trim().to_string();
            if current == dotted {
                return Some(i + 1);
            }
            continue;
        }
        if current == table
            && l.strip_prefix(leaf)
                .is_some_and(|r| r.trim_start().starts_with('='))
        {
            return Some(i + 1);
        }
    }
    None
}

/// Set a dotted key (`compressor.kind`, `dropout.ratios`) in a TOML table, creating
/// tables on the way. Used by the ablation runner to apply grid cells to a base config.
pub fn set_dotted(root: &mut toml::Value, key: &str, value: toml::Value) -> Result<(), String> {
    let mut cur = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let table = cur
            .as_table_mut()
            .ok_or_else(|| format!("`{}` is not a table", parts[..i].join(".")))?;
        if i + 1 == parts.len() {
            table.insert((*part).to_string(), value);
            return Ok(());
        }
        cur = table
            .entry((*part).to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
    }
    Ok(())
}
