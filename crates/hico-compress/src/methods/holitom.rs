//! `holitom`: the outer-LLM stages of HoliTom (Shao et al., "HoliTom: Holistic Token Merging
//! for Fast Video Large Language Models", arXiv 2505.21334), from `cokeshao/HoliTom`,
//! `holitom/llava_arch.py`: the video branch of `prepare_inputs_labels_for_multimodal()` with
//! `select_static_windows()`, `get_static_dynamic_features()`, `holitom()`,
//! `merge_tokens_by_attention_density()`, `merge_tokens_by_density()`, `cluster_dpc_knn()` and
//! `merge_tokens_by_clustering()`.
//!
//! 1. A token is *static* between frames `f` and `f + 1` when its cosine similarity with the
//!    same position of the next frame is above `tau`. A segmentation of the video into windows
//!    of at most `max_window_size` frames is chosen by dynamic programming to maximise the
//!    tokens pruned, `Σ (positions static over the whole window) · (window length − 1)`.
//! 2. The ratio becomes `min(retain_ratio / ((T·N − pruned) / (T·N)), 1)`.
//! 3. Per window (time order): its static positions, each the mean over the window's frames,
//!    are merged to `round(S·ratio)` density-peak clusters (`k` neighbours); then each frame's
//!    dynamic positions keep `round(ceil(L·ratio)·(1 − d))` tokens of highest attention
//!    (position order), the rest merged to the remaining `ceil(L·ratio) − dominant` clusters.
//!    A cluster is `beta · centre + (1 − beta) · mean(members)`, a centre alone stays itself.
//!
//! Output order: that of `holitom()` off the `grid` newline path (LLaVA-OneVision), without
//! the newline token. Contract decisions and quirks: docs/compression.md, section `holitom`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::util::{dot, mean_rows, normalize_rows, py_round, rows_f64, topk_desc};
use crate::{CompressError, Input, Needs, Plan, Result, Rule};

/// Parameters of `holitom` (names of the official environment variables, lower-cased; defaults
/// from `prepare_inputs_labels_for_multimodal()`'s `os.environ.get` fallbacks).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Holitom {
    /// Fraction of all visual tokens kept (`RETAIN_RATIO`, 0.1), in `(0, 1]`.
    pub retain_ratio: f64,
    /// Cosine similarity above which a position is static between two frames (`T`, 0.8).
    pub tau: f64,
    /// Weight of a cluster's centre against its members' mean (`BETA`, 0.6), in `[0, 1]`.
    pub beta: f64,
    /// Share of a frame's dynamic budget given to clusters instead of attention (`D`, 0).
    pub d: f64,
    /// Neighbours of the density-peak density, capped by the cluster count (`K`, 7).
    pub k: usize,
    /// Most frames in one window (`MAX_WINDOW_SIZE`, 1024).
    pub max_window_size: usize,
}

impl Default for Holitom {
    fn default() -> Self {
        Self {
            retain_ratio: 0.1,
            tau: 0.8,
            beta: 0.6,
            d: 0.0,
            k: 7,
            max_window_size: 1024,
        }
    }
}

/// A token being built: `(flat input index, weight)`, indices ascending.
type Row = BTreeMap<usize, f64>;

fn param(param: &'static str, msg: String) -> CompressError {
    CompressError::Param {
        method: "holitom",
        param,
        msg,
    }
}

impl Holitom {
    fn check(&self) -> Result<()> {
        if !(self.retain_ratio > 0.0 && self.retain_ratio <= 1.0) {
            return Err(param(
                "retain_ratio",
                format!("{} is not in (0, 1]", self.retain_ratio),
            ));
        }
        if !self.tau.is_finite() {
            return Err(param(
                "tau",
                format!("{} is not a finite similarity", self.tau),
            ));
        }
        if !(0.0..=1.0).contains(&self.beta) {
            return Err(param("beta", format!("{} is not in [0, 1]", self.beta)));
        }
        if !(0.0..=1.0).contains(&self.d) {
            return Err(param(
                "d",
                format!("{} is not in [0, 1] (a negative dominant count)", self.d),
            ));
        }
        if self.k == 0 {
            return Err(param("k", "0 neighbours give no density; use k ≥ 1".into()));
        }
        if self.max_window_size == 0 {
            return Err(param(
                "max_window_size",
                "0 frames; use 1 for no temporal merging".into(),
            ));
        }
        Ok(())
    }
}

/// `pruned[s·t + e]` for `s < e`: positions static over frames `s..=e` (all `e − s`
/// consecutive similarities above `tau`) times `e − s`; 0 for `e ≤ s`. `static_step` is
/// `[t − 1, n]`.
pub fn pruned_static_count(static_step: &[bool], t: usize, n: usize) -> Vec<u64> {
    let mut pruned = vec![0u64; t * t];
    for s in 0..t {
        let mut still = vec![true; n];
        for e in s + 1..t {
            for (st, &ok) in still.iter_mut().zip(&static_step[(e - 1) * n..e * n]) {
                *st &= ok;
            }
            pruned[s * t + e] = still.iter().filter(|&&v| v).count() as u64 * (e - s) as u64;
        }
    }
    pruned
}

/// The official `select_static_windows()` dynamic programme: windows `(start, end)` in time
/// order and the tokens they prune. A longer window replaces the best so far only when it
/// prunes strictly more (ties keep the shorter one).
pub fn select_static_windows(
    pruned: &[u64],
    t: usize,
    max_window_size: usize,
) -> (Vec<(usize, usize)>, u64) {
    let mut dp = vec![0u64; t];
    let mut prev = vec![0usize; t];
    for i in 0..t {
        let mut max_val = if i > 0 { dp[i - 1] } else { 0 };
        let mut best = i;
        for size in 2..=(i + 1).min(max_window_size) {
            let first = i + 1 - size;
            let val = if first > 0 { dp[first - 1] } else { 0 } + pruned[first * t + i];
            if val > max_val {
                max_val = val;
                best = first;
            }
        }
        dp[i] = max_val;
        prev[i] = best;
    }
    let mut windows = Vec::new();
    let mut i = t;
    while i > 0 {
        windows.push((prev[i - 1], i - 1));
        i = prev[i - 1];
    }
    windows.reverse();
    (windows, dp.last().copied().unwrap_or(0))
}

/// The official `cluster_dpc_knn()` on rows `x` `[l, c]` without the density noise: the
/// `cluster_num` centres (ascending, as the callers sort them) and the `[l, l]` distances
/// (Euclidean over `√c`).
pub fn cluster_dpc_knn(
    x: &[f64],
    c: usize,
    cluster_num: usize,
    k: usize,
) -> (Vec<usize>, Vec<f64>) {
    let (score, dist) = crate::util::dpc_knn(x, c, k);
    let mut centres = topk_desc(&score, cluster_num);
    centres.sort_unstable();
    (centres, dist)
}

/// The official `merge_tokens_by_clustering()` (with `NO_BETA` unset): every non-centre row
/// joins its nearest centre (ties to the lower centre); a centre with members becomes
/// `beta · centre + (1 − beta) · mean(members)`, one without stays itself. Centre order.
fn merge_by_clustering(rows: &[Row], centres: &[usize], dist: &[f64], beta: f64) -> Vec<Row> {
    let l = rows.len();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); centres.len()];
    for i in (0..l).filter(|i| centres.binary_search(i).is_err()) {
        let mut best = 0;
        for (ci, &cj) in centres.iter().enumerate().skip(1) {
            if dist[i * l + cj] < dist[i * l + centres[best]] {
                best = ci;
            }
        }
        members[best].push(i);
    }
    centres
        .iter()
        .zip(&members)
        .map(|(&ctr, mem)| {
            if mem.is_empty() {
                return rows[ctr].clone();
            }
            let mut out = Row::new();
            for (&i, &w) in &rows[ctr] {
                *out.entry(i).or_default() += beta * w;
            }
            let share = (1.0 - beta) / mem.len() as f64;
            for &m in mem {
                for (&i, &w) in &rows[m] {
                    *out.entry(i).or_default() += share * w;
                }
            }
            out
        })
        .collect()
}

/// Density-peak clusters of `rows` (values `feat` `[l, c]`): the official
/// `merge_tokens_by_density()` body once the count is known.
fn clusters(rows: &[Row], feat: &[f64], c: usize, num: usize, p: &Holitom) -> Vec<Row> {
    if num == 0 {
        return Vec::new();
    }
    let (centres, dist) = cluster_dpc_knn(feat, c, num, p.k.min(num));
    merge_by_clustering(rows, &centres, &dist, p.beta)
}

impl Rule for Holitom {
    const KIND: &'static str = "holitom";

    fn needs(&self) -> Needs {
        Needs {
            attention: self.d < 1.0,
            ..Needs::default()
        }
    }

    fn plan(&self, x: &Input) -> Result<Plan> {
        self.check()?;
        let (t, n, c) = (x.t, x.n, x.c);
        let data = rows_f64(x);
        let normed = normalize_rows(&data, c);
        let attn = x.attention.unwrap_or(&[]);
        let mut static_step = Vec::with_capacity(t.saturating_sub(1) * n);
        for f in 1..t {
            for p in 0..n {
                let (a, b) = ((f - 1) * n + p, f * n + p);
                let sim = dot(&normed[a * c..(a + 1) * c], &normed[b * c..(b + 1) * c]);
                static_step.push(sim > self.tau);
            }
        }
        let pruned = pruned_static_count(&static_step, t, n);
        let (windows, reduced) = select_static_windows(&pruned, t, self.max_window_size);
        let total = (t * n) as f64;
        let ratio = (self.retain_ratio / ((total - reduced as f64) / total)).min(1.0);

        let mut out: Vec<Row> = Vec::new();
        let one = |i: usize| Row::from([(i, 1.0)]);
        for (start, end) in windows {
            let is_static = |p: usize| end > start && (start..end).all(|f| static_step[f * n + p]);
            if end > start {
                // get_static_dynamic_features(): a static position is its mean over the window.
                let frames = (end - start + 1) as f64;
                let pos: Vec<usize> = (0..n).filter(|&p| is_static(p)).collect();
                let rows: Vec<Row> = pos
                    .iter()
                    .map(|&p| (start..=end).map(|f| (f * n + p, 1.0 / frames)).collect())
                    .collect();
                let feat: Vec<f64> = pos
                    .iter()
                    .flat_map(|&p| mean_rows(&data, c, (start..=end).map(|f| f * n + p)))
                    .collect();
                let num = py_round(pos.len() as f64 * ratio).max(0) as usize;
                out.extend(clusters(&rows, &feat, c, num, self));
            }
            for f in start..=end {
                // merge_tokens_by_attention_density() on the frame's dynamic positions.
                let idx: Vec<usize> = (0..n)
                    .filter(|&p| !is_static(p))
                    .map(|p| f * n + p)
                    .collect();
                let budget = (idx.len() as f64 * ratio).ceil();
                let dominant = py_round(budget * (1.0 - self.d)).max(0) as usize;
                let contextual = budget as usize - dominant;
                let mut keep = vec![false; n];
                if dominant > 0 {
                    let a: Vec<f64> = idx.iter().map(|&i| attn[i] as f64).collect();
                    topk_desc(&a, dominant)
                        .into_iter()
                        .for_each(|r| keep[idx[r] - f * n] = true);
                }
                let (kept, rest): (Vec<usize>, Vec<usize>) =
                    idx.iter().partition(|&&i| keep[i - f * n]);
                out.extend(kept.into_iter().map(one));
                if contextual > 0 {
                    let rows: Vec<Row> = rest.iter().map(|&i| one(i)).collect();
                    let feat: Vec<f64> = rest
                        .iter()
                        .flat_map(|&i| data[i * c..(i + 1) * c].iter().copied())
                        .collect();
                    out.extend(clusters(&rows, &feat, c, contextual, self));
                }
            }
        }
        if out.is_empty() {
            return Err(param(
                "retain_ratio",
                format!("{} keeps no token of this video", self.retain_ratio),
            ));
        }
        Ok(Plan {
            groups: out
                .into_iter()
                .map(|r| {
                    r.into_iter()
                        .filter(|&(_, w)| w != 0.0)
                        .map(|(i, w)| (i as u32, w as f32))
                        .collect()
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_parameters_name_themselves() {
        let data = [1.0f32; 8];
        let x = Input::new(&data, 2, 2, 2).unwrap();
        let bad = [
            ("retain_ratio = 0.0", "retain_ratio"),
            ("beta = 1.5", "beta"),
            ("d = -0.1", "d"),
            ("k = 0", "k"),
            ("max_window_size = 0", "max_window_size"),
        ];
        for (table, name) in bad {
            let m: Holitom = toml::from_str(table).unwrap();
            let e = m.plan(&x).unwrap_err().to_string();
            assert!(e.contains(&format!("`{name}`")), "{e}");
        }
    }

    #[test]
    fn windows_maximise_the_pruned_tokens() {
        // 4 frames, 2 positions: position 0 static over frames 0..=2, position 1 over 2..=3.
        let step = [true, false, true, false, false, true];
        let pruned = pruned_static_count(&step, 4, 2);
        assert_eq!(pruned[2], 2); // [0, 2]: one position, two steps
        assert_eq!(pruned[3], 0);
        assert_eq!(pruned[2 * 4 + 3], 1);
        assert_eq!(
            select_static_windows(&pruned, 4, 1024),
            (vec![(0, 2), (3, 3)], 2)
        );
        // Windows of two frames: [0, 1] then [2, 3] prune 1 + 1.
        assert_eq!(
            select_static_windows(&pruned, 4, 2),
            (vec![(0, 1), (2, 3)], 2)
        );
        assert_eq!(select_static_windows(&[0], 1, 1024), (vec![(0, 0)], 0));
    }

    #[test]
    fn two_identical_frames_merge_to_their_mean() {
        // t = 2 identical frames of 4 tokens: all static, one window; ratio 0.25 becomes
        // min(0.25 / (4 / 8), 1) = 0.5, so round(4 · 0.5) = 2 clusters of the frame means.
        let frame = [1.0f32, 0.0, 0.9, 0.1, 0.0, 1.0, 0.1, 0.9];
        let data: Vec<f32> = frame.iter().chain(&frame).copied().collect();
        let x = Input::new(&data, 2, 4, 2).unwrap();
        let m = Holitom {
            retain_ratio: 0.25,
            d: 1.0,
            beta: 0.5,
            ..Holitom::default()
        };
        let plan = m.plan(&x).unwrap();
        assert_eq!(plan.len(), 2);
        let out = plan.apply(&x);
        // Distances over √2: a–b = c–d = 0.1, b–d = 0.8, a–d = b–c = 0.9, a–c = 1. With k =
        // min(7, 2) = 2 neighbours every density is exp(−0.01 / 2): no token is denser than
        // another, every score is 1 · density, so the centres are tokens 0 and 1 (ties to the
        // lower index). c and d are nearer b: a stays itself, b becomes 0.5 b + 0.5 (c + d) / 2.
        let want = [1.0, 0.0, 0.475, 0.525];
        assert!(
            out.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6),
            "{out:?}"
        );
        assert_eq!(plan.source(), vec![0, 1]);
        assert_eq!(plan.groups[0], vec![(0, 0.5), (4, 0.5)]); // one position over two frames
        assert_eq!(plan.groups[1].len(), 6);
    }
}
