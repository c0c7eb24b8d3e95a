//! Files of `hico compress`: the method's TOML and the token tensors in safetensors.
//!
//! - method: a TOML file with one `[compressor]` table (`kind` + parameters);
//! - input: `tokens` f32 `[T, N, C]`, optional `query` f32 `[Q, C]`, optional `attention`
//!   f32 `[T, N]`;
//! - output: `tokens` f32 `[K, C]` in the method's output order and `source` i64 `[K]`, for
//!   each output token the smallest flat input index (`t·N + n`) it stands for.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::{CompressError, Input, Method, Plan, Result};

/// Read the `[compressor]` table of a TOML file.
pub fn load_method(path: &Path) -> Result<Method> {
    let err = |msg: String| CompressError::Config {
        path: path.display().to_string(),
        msg,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    parse_method(&text).map_err(err)
}

/// Parse a TOML text holding one `[compressor]` table.
pub fn parse_method(text: &str) -> std::result::Result<Method, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        compressor: Method,
    }
    toml::from_str::<File>(text)
        .map(|f| f.compressor)
        .map_err(|e| e.to_string().trim_end().to_string())
}

/// The input tensors of `hico compress`, owned.
#[derive(Debug, Clone, PartialEq)]
pub struct Tokens {
    /// `[t, n, c]`.
    pub tokens: Vec<f32>,
    /// `(t, n, c)`.
    pub shape: (usize, usize, usize),
    /// `[q, c]` and `q`.
    pub query: Option<(Vec<f32>, usize)>,
    /// `[t, n]`.
    pub attention: Option<Vec<f32>>,
}

impl Tokens {
    /// A borrowed [`Input`] (grid layout).
    pub fn input(&self) -> Input<'_> {
        let (t, n, c) = self.shape;
        Input {
            tokens: &self.tokens,
            t,
            n,
            c,
            query: self.query.as_ref().map(|(q, rows)| (q.as_slice(), *rows)),
            attention: self.attention.as_deref(),
            is_grid: true,
        }
    }
}

fn f32_values(path: &Path, name: &str, view: &TensorView) -> Result<Vec<f32>> {
    if view.dtype() != Dtype::F32 {
        return Err(CompressError::File {
            path: path.display().to_string(),
            msg: format!("tensor `{name}` is {:?}, expected F32", view.dtype()),
        });
    }
    Ok(view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Read the input tensors, checking names, dtypes and shapes; errors name the tensor.
pub fn read_tokens(path: &Path) -> Result<Tokens> {
    let file = |msg: String| CompressError::File {
        path: path.display().to_string(),
        msg,
    };
    let bytes = std::fs::read(path).map_err(|e| file(e.to_string()))?;
    let st = SafeTensors::deserialize(&bytes).map_err(|e| file(format!("not safetensors: {e}")))?;
    let tokens = st
        .tensor("tokens")
        .map_err(|_| file("no tensor `tokens` (f32 [T, N, C])".into()))?;
    let &[t, n, c] = tokens.shape() else {
        return Err(file(format!(
            "`tokens` has shape {:?}, expected [T, N, C]",
            tokens.shape()
        )));
    };
    let mut out = Tokens {
        tokens: f32_values(path, "tokens", &tokens)?,
        shape: (t, n, c),
        query: None,
        attention: None,
    };
    if let Ok(q) = st.tensor("query") {
        match q.shape() {
            &[rows, qc] if qc == c => out.query = Some((f32_values(path, "query", &q)?, rows)),
            s => {
                return Err(file(format!(
                    "`query` has shape {s:?}, expected [Q, {c}] (C of `tokens`)"
                )));
            }
        }
    }
    if let Ok(a) = st.tensor("attention") {
        if a.shape() != [t, n] {
            return Err(file(format!(
                "`attention` has shape {:?}, expected [{t}, {n}] (T, N of `tokens`)",
                a.shape()
            )));
        }
        out.attention = Some(f32_values(path, "attention", &a)?);
    }
    if let Some(name) = st
        .names()
        .into_iter()
        .find(|k| !["tokens", "query", "attention"].contains(&k.as_str()))
    {
        return Err(file(format!(
            "unexpected tensor `{name}` (expected `tokens`, `query`, `attention`)"
        )));
    }
    Ok(out)
}

/// Write the output of a plan: `tokens` `[K, C]` and `source` `[K]`, atomically.
pub fn write_output(path: &Path, plan: &Plan, x: &Input) -> Result<()> {
    let out = plan.apply(x);
    let source = plan.source();
    let tok_bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    let src_bytes: Vec<u8> = source.iter().flat_map(|v| v.to_le_bytes()).collect();
    let k = plan.len();
    let file = |msg: String| CompressError::File {
        path: path.display().to_string(),
        msg,
    };
    let views = [
        (
            "tokens",
            TensorView::new(Dtype::F32, vec![k, x.c], &tok_bytes)
                .map_err(|e| file(e.to_string()))?,
        ),
        (
            "source",
            TensorView::new(Dtype::I64, vec![k], &src_bytes).map_err(|e| file(e.to_string()))?,
        ),
    ];
    let bytes = safetensors::serialize(views, &None::<HashMap<String, String>>)
        .map_err(|e| file(e.to_string()))?;
    let tmp = path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, bytes).map_err(|e| file(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| file(e.to_string()))
}
