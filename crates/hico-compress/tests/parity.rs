//! Parity with the Python references: every fixture in `tests/fixtures/` was written by
//! `scripts/make_compress_fixtures.py` from a reference in `scripts/compress_ref/` (each
//! written from the method's official code). A fixture holds the method's `[compressor]`
//! table (metadata `config`), its inputs (`tokens`, optional `query`, `attention`) and the
//! reference's output (`out_tokens`, `out_source`). hico must keep the same tokens (sources
//! equal) and produce the same values (to 1e-5).

use std::path::{Path, PathBuf};

use hico_compress::{Input, io::parse_method};
use safetensors::SafeTensors;

fn f32s(st: &SafeTensors, name: &str) -> Option<(Vec<f32>, Vec<usize>)> {
    let v = st.tensor(name).ok()?;
    let data = v
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Some((data, v.shape().to_vec()))
}

fn check(path: &Path) -> Result<usize, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| e.to_string())?;
    let meta = meta.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(&bytes).map_err(|e| e.to_string())?;
    let method = parse_method(meta.get("config").ok_or("no `config` metadata")?)?;
    let (tokens, shape) = f32s(&st, "tokens").ok_or("no `tokens`")?;
    let &[t, n, c] = shape.as_slice() else {
        return Err(format!("tokens shape {shape:?}"));
    };
    let query = f32s(&st, "query");
    let attention = f32s(&st, "attention");
    let mut x = Input::new(&tokens, t, n, c).map_err(|e| e.to_string())?;
    x.query = query.as_ref().map(|(q, s)| (q.as_slice(), s[0]));
    x.attention = attention.as_ref().map(|(a, _)| a.as_slice());
    x.is_grid = meta.get("is_grid").is_none_or(|v| v != "false");
    let plan = method.plan(&x).map_err(|e| e.to_string())?;
    let want_src: Vec<i64> = st
        .tensor("out_source")
        .map_err(|_| "no `out_source`")?
        .data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    let got_src = plan.source();
    if got_src != want_src {
        let first = got_src
            .iter()
            .zip(&want_src)
            .position(|(a, b)| a != b)
            .unwrap_or(got_src.len().min(want_src.len()));
        return Err(format!(
            "sources differ ({} vs reference {} tokens), first at output {first}: {:?} vs {:?}",
            got_src.len(),
            want_src.len(),
            got_src.get(first),
            want_src.get(first)
        ));
    }
    let (want, _) = f32s(&st, "out_tokens").ok_or("no `out_tokens`")?;
    let got = plan.apply(&x);
    if let Some((i, (a, b))) = got
        .iter()
        .zip(&want)
        .enumerate()
        .find(|(_, (a, b))| (*a - *b).abs() > 1e-5)
    {
        return Err(format!(
            "values differ at output {} channel {}: {a} vs reference {b}",
            i / c,
            i % c
        ));
    }
    Ok(plan.len())
}

#[test]
fn every_method_matches_its_reference() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "safetensors"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures in {}", dir.display());
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        match check(f) {
            Ok(k) => println!("{name}: {k} tokens, same as the reference"),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
