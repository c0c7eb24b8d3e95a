//! Annotation rows, read from JSON lists or parquet files into JSON objects, with accessors
//! whose errors name the file, row and column.

use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// One annotation row and where it came from.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub file: PathBuf,
    /// Index within its file (for sharded parquet splits: within the split, over the shards in
    /// name order).
    pub index: usize,
    pub fields: Map<String, Value>,
}

impl Row {
    fn err(&self, column: &str, problem: &str) -> Error {
        Error::Column {
            path: self.file.clone(),
            row: self.index,
            column: column.to_string(),
            problem: problem.to_string(),
        }
    }

    /// The raw value, or an error naming the missing column.
    pub fn get(&self, column: &str) -> Result<&Value> {
        self.fields
            .get(column)
            .ok_or_else(|| self.err(column, "is missing"))
    }

    /// A string column.
    pub fn str(&self, column: &str) -> Result<&str> {
        self.get(column)?
            .as_str()
            .ok_or_else(|| self.err(column, "is not a string"))
    }

    /// A list-of-strings column.
    pub fn strs(&self, column: &str) -> Result<Vec<String>> {
        let v = self.get(column)?;
        let list = v
            .as_array()
            .ok_or_else(|| self.err(column, "is not a list"))?;
        list.iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.err(column, "holds a non-string"))
            })
            .collect()
    }

    /// A numeric column as f64.
    pub fn f64(&self, column: &str) -> Result<f64> {
        self.get(column)?
            .as_f64()
            .ok_or_else(|| self.err(column, "is not a number"))
    }

    /// An integer column.
    pub fn i64(&self, column: &str) -> Result<i64> {
        let v = self.get(column)?;
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| self.err(column, "is not an integer"))
    }

    /// Whether the row has the column (with a non-null value).
    pub fn has(&self, column: &str) -> bool {
        self.fields.get(column).is_some_and(|v| !v.is_null())
    }
}

fn read_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Read {
        path: path.to_path_buf(),
        msg: e.to_string(),
    }
}

/// A JSON file holding a list of objects.
pub(crate) fn read_json(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).map_err(|e| read_err(path, e))?;
    let value: Value = serde_json::from_str(&text).map_err(|e| read_err(path, e))?;
    let Value::Array(items) = value else {
        return Err(read_err(path, "not a JSON list"));
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, v)| match v {
            Value::Object(fields) => Ok(Row {
                file: path.to_path_buf(),
                index,
                fields,
            }),
            _ => Err(read_err(path, format!("item {index} is not an object"))),
        })
        .collect()
}

fn field_to_json(f: &Field) -> Value {
    match f {
        Field::Null => Value::Null,
        Field::Bool(b) => Value::Bool(*b),
        Field::Byte(n) => (*n).into(),
        Field::Short(n) => (*n).into(),
        Field::Int(n) => (*n).into(),
        Field::Long(n) => (*n).into(),
        Field::UByte(n) => (*n).into(),
        Field::UShort(n) => (*n).into(),
        Field::UInt(n) => (*n).into(),
        Field::ULong(n) => (*n).into(),
        Field::Float(n) => {
            serde_json::Number::from_f64(f64::from(*n)).map_or(Value::Null, Value::Number)
        }
        Field::Double(n) => serde_json::Number::from_f64(*n).map_or(Value::Null, Value::Number),
        Field::Str(s) => Value::String(s.clone()),
        Field::ListInternal(list) => {
            Value::Array(list.elements().iter().map(field_to_json).collect())
        }
        Field::Group(row) => Value::Object(
            row.get_column_iter()
                .map(|(k, v)| (k.clone(), field_to_json(v)))
                .collect(),
        ),
        other => Value::String(other.to_string()),
    }
}

/// The rows of parquet files, concatenated in the order given.
pub(crate) fn read_parquet(paths: &[PathBuf]) -> Result<Vec<Row>> {
    let mut rows = Vec::new();
    for path in paths {
        let file = File::open(path).map_err(|e| read_err(path, e))?;
        let reader = SerializedFileReader::new(file).map_err(|e| read_err(path, e))?;
        let iter = reader.get_row_iter(None).map_err(|e| read_err(path, e))?;
        for row in iter {
            let row = row.map_err(|e| read_err(path, e))?;
            let fields = row
                .get_column_iter()
                .map(|(k, v)| (k.clone(), field_to_json(v)))
                .collect();
            let index = rows.len();
            rows.push(Row {
                file: path.clone(),
                index,
                fields,
            });
        }
    }
    Ok(rows)
}

/// The files `<dir>/<prefix>-*.parquet`, in name order (a Hugging Face split's shards).
pub(crate) fn parquet_shards(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&format!("{prefix}-")) && n.ends_with(".parquet"))
        })
        .collect();
    out.sort();
    out
}
