//! Prefill (512 and 2048 tokens) and per-token decode of a Qwen2-0.5B-shaped random model on
//! the default CPU backend, with peak resident memory. `benches/torch_llm_bench.py` measures
//! the same in PyTorch eager (`--shape qwen2_5_0_5b`, or `qwen2_5_0_5b_4layers` with
//! `HICO_BENCH_SMALL`) and prints JSON lines; save them to a file and pass its path in
//! `HICO_TORCH_BENCH` to print the ratios. Threads: rayon's default (set `RAYON_NUM_THREADS`
//! to match torch's `--threads`).
//!
//! `cargo bench -p hico-llm --bench llm` (set `HICO_BENCH_SMALL=1` for a 4-layer model).

use std::time::Instant;

use hico_backend::Cpu;
use hico_core::LanguageModel;
use hico_llm::{CausalLm, LlmSpec, ids_tensor, text_input};

/// Peak resident set size in MiB (Linux `VmHWM`).
fn peak_mib() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    hico_backend::mem::keep_freed_memory();
    let layers = if std::env::var("HICO_BENCH_SMALL").is_ok() {
        4
    } else {
        24
    };
    let spec =
        LlmSpec::tiny("qwen2", 151_936, 896, 4864, layers, 14, 2).expect("qwen2 is supported");
    let dev = Default::default();
    let m = CausalLm::<Cpu>::random(&spec, &dev);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("Qwen2-0.5B-shaped ({layers} layers), burn flex, {threads} threads");
    let mut rows: Vec<(String, f64)> = Vec::new();
    for len in [512usize, 2048] {
        let ids: Vec<u32> = (0..len).map(|i| (i * 7919 % 151_936) as u32).collect();
        let t = Instant::now();
        let (out, mut cache) = m.prefill(text_input(m.embed(ids_tensor(&ids, &dev))));
        let _ = out.last_logits.into_data();
        let prefill = t.elapsed().as_secs_f64();
        rows.push((format!("prefill_{len}"), prefill));
        if len == 512 {
            let n = 8;
            let t = Instant::now();
            for i in 0..n {
                let _ = m.decode_step(i as u32, &mut cache).into_data();
            }
            rows.push((
                "decode_step_after_512".into(),
                t.elapsed().as_secs_f64() / n as f64,
            ));
        }
    }
    // One JSON object per prefill length: {"prefill": n, "prefill_ms", "decode_ms", "peak_mib"}.
    let lines: Vec<serde_json::Value> = std::env::var("HICO_TORCH_BENCH")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|s| {
            s.lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()
        })
        .unwrap_or_default();
    let mut torch = serde_json::Map::new();
    for l in &lines {
        let (Some(n), Some(p)) = (l["prefill"].as_u64(), l["prefill_ms"].as_f64()) else {
            continue;
        };
        torch.insert(format!("prefill_{n}"), (p / 1e3).into());
        if let (512, Some(d)) = (n, l["decode_ms"].as_f64()) {
            torch.insert("decode_step_after_512".into(), (d / 1e3).into());
        }
        if let Some(m) = l["peak_mib"].as_f64() {
            torch.insert("peak_mib".into(), m.into());
        }
    }
    let torch = (!torch.is_empty()).then_some(serde_json::Value::Object(torch));
    println!(
        "{:<24} {:>10} {:>10} {:>8}",
        "case", "hico (s)", "torch (s)", "ratio"
    );
    for (name, secs) in &rows {
        let tt = torch.as_ref().and_then(|t| t[name].as_f64());
        match tt {
            Some(tt) => println!("{name:<24} {secs:>10.3} {tt:>10.3} {:>8.2}", secs / tt),
            None => println!("{name:<24} {secs:>10.3} {:>10} {:>8}", "-", "-"),
        }
    }
    let tp = torch
        .as_ref()
        .and_then(|t| t["peak_mib"].as_f64())
        .unwrap_or(f64::NAN);
    println!("peak RSS: hico {:.0} MiB, torch {tp:.0} MiB", peak_mib());
}
