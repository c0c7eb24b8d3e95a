//! `fastvid`: FastVID (Shen et al., "FastVID: Dynamic Density Pruning for Fast Video Large
//! Language Models", NeurIPS 2025, arXiv 2503.11187), from `LunarShen/FastVID`,
//! `fastvid_llavaonevision/LLaVA-NeXT/llava/model/language_model/modeling_qwen2.py`,
//! `Qwen2Model.forward()` (the FastVID block run at prefill).
//!
//! 1. DySeg: frames' global features (the mean of their tokens), cosine similarity of each
//!    consecutive pair; a segment ends after each of the `dyseg_c − 1` least similar pairs and
//!    after every pair below `dyseg_tau`.
//! 2. STPrune budgets per frame: `retain = int(n·retention_ratio)`, `context =
//!    int(retain·stprune_d)`, `salient = retain − context`; in a segment of `L` frames, the
//!    frames `L−1, L−1−p, …` (from its end, `p = dtm_p`) get `context·L // ceil(L/p)` anchors.
//! 3. Each frame keeps its `salient` most-attended tokens; its other tokens get a DPC-KNN
//!    score (density `exp(−mean d²)` over the 4 nearest, times the distance to the nearest
//!    denser token; the official 1e-6 random noise on the density is left out).
//! 4. DTM: anchors = the highest scores; tokens join their most cosine-similar anchor, which
//!    becomes `w·anchor + (1−w)·mean(members)`, `w = max(1/(n+1), dtm_beta)`. Anchor frames
//!    with exactly `context` anchors merge their own frame; those with more merge their whole
//!    segment. Output: kept tokens sorted by their own flat index.

use serde::{Deserialize, Serialize};

use crate::util::{argsort_asc, dot, mean_rows, normalize_rows, rows_f64, topk_desc};
use crate::{CompressError, Input, Needs, Plan, Result, Rule};

const KIND: &str = "fastvid";

/// Parameters of `fastvid` (official names without the `fastvid_` prefix, lower case;
/// defaults from `fastvid_llavaonevision/scripts/eval.sh`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FastVid {
    /// Fraction of each frame's tokens kept (`fastvid_retention_ratio`).
    pub retention_ratio: f64,
    /// Segments cut at the `dyseg_c − 1` least similar consecutive frame pairs at least
    /// (`fastvid_DySeg_c`).
    pub dyseg_c: usize,
    /// Segments also cut wherever consecutive frames' cosine similarity is below this
    /// (`fastvid_DySeg_tau`).
    pub dyseg_tau: f64,
    /// Share of each frame's budget spent on density anchors rather than salient tokens
    /// (`fastvid_STPrune_d`).
    pub stprune_d: f64,
    /// Anchor frames every `dtm_p` frames of a segment, counted from its end (`fastvid_DTM_p`).
    pub dtm_p: usize,
    /// Least weight of an anchor in its merged token (`fastvid_DTM_beta`).
    pub dtm_beta: f64,
}

impl Default for FastVid {
    fn default() -> Self {
        Self {
            retention_ratio: 0.10,
            dyseg_c: 8,
            dyseg_tau: 0.9,
            stprune_d: 0.4,
            dtm_p: 4,
            dtm_beta: 0.6,
        }
    }
}

fn param(param: &'static str, msg: String) -> CompressError {
    CompressError::Param {
        method: KIND,
        param,
        msg,
    }
}

impl FastVid {
    /// `(salient, context)` tokens per frame of `n`, checked as the official code needs.
    pub fn budgets(&self, n: usize) -> Result<(usize, usize)> {
        let r = self.retention_ratio;
        if !(r > 0.0 && r <= 1.0) {
            return Err(param("retention_ratio", format!("{r} is not in (0, 1]")));
        }
        let d = self.stprune_d;
        if !(0.0..=1.0).contains(&d) {
            return Err(param("stprune_d", format!("{d} is not in [0, 1]")));
        }
        let retain = (n as f64 * r) as usize;
        let context = (retain as f64 * d) as usize;
        if context == 0 {
            return Err(param(
                if retain == 0 {
                    "retention_ratio"
                } else {
                    "stprune_d"
                },
                format!(
                    "int(int({n}·{r})·{d}) = 0 anchor tokens per frame; the official merge \
                     (argmax over anchors) needs at least one"
                ),
            ));
        }
        let salient = retain - context;
        if n - salient < 4 {
            return Err(CompressError::Input {
                method: KIND,
                msg: format!(
                    "n = {n} tokens per frame leave {} beside the {salient} salient ones; the \
                     density needs 4 nearest neighbours",
                    n - salient
                ),
            });
        }
        Ok((salient, context))
    }

    /// Segment lengths (DySeg) from the frames' mean features.
    pub fn segments(&self, x: &Input, rows: &[f64]) -> Result<Vec<usize>> {
        let (t, n, c) = (x.t, x.n, x.c);
        if self.dyseg_c == 0 || self.dyseg_c > t {
            return Err(param(
                "dyseg_c",
                format!(
                    "{} cuts need 1 ≤ dyseg_c ≤ t = {t} (topk of dyseg_c − 1 among t − 1 \
                     similarities)",
                    self.dyseg_c
                ),
            ));
        }
        let mut g = Vec::with_capacity(t * c);
        for f in 0..t {
            g.extend(mean_rows(rows, c, f * n..(f + 1) * n));
        }
        let g = normalize_rows(&g, c);
        let sim: Vec<f64> = (0..t.saturating_sub(1))
            .map(|i| dot(&g[i * c..(i + 1) * c], &g[(i + 1) * c..(i + 2) * c]))
            .collect();
        let mut cut = vec![false; sim.len()];
        for &i in argsort_asc(&sim).iter().take(self.dyseg_c - 1) {
            cut[i] = true;
        }
        for (i, &s) in sim.iter().enumerate() {
            if s < self.dyseg_tau {
                cut[i] = true;
            }
        }
        let mut sizes = Vec::new();
        let mut start = 0;
        for (i, _) in cut.iter().enumerate().filter(|(_, c)| **c) {
            sizes.push(i + 1 - start);
            start = i + 1;
        }
        sizes.push(t - start);
        Ok(sizes)
    }
}

/// DPC-KNN scores of `m` rows (`[m, c]`): density `exp(−mean of the 4 smallest d²)` (self
/// included) times the distance to the nearest row of strictly higher density (the largest
/// distance if none), with `d` the Euclidean distance over `√c`.
pub fn density_scores(rows: &[f64], c: usize) -> Vec<f64> {
    crate::util::dpc_knn(rows, c, 4).0
}

/// DTM: merge the `pool` tokens (flat indices) into the `anchors` (flat indices), each pool
/// token joining the anchor of highest cosine similarity (the first one on ties); an anchor
/// with `k` members becomes `w·anchor + (1−w)·mean(members)`, `w = max(1/(k+1), beta)`.
pub fn dtm(
    rows: &[f64],
    c: usize,
    anchors: &[usize],
    pool: &[usize],
    beta: f64,
) -> Vec<Vec<(u32, f32)>> {
    let unit = |i: usize| normalize_rows(&rows[i * c..(i + 1) * c], c);
    let targets: Vec<Vec<f64>> = anchors.iter().map(|&a| unit(a)).collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); anchors.len()];
    for &p in pool {
        let u = unit(p);
        let mut best = 0;
        let mut best_sim = f64::NEG_INFINITY;
        for (a, t) in targets.iter().enumerate() {
            let s = dot(&u, t);
            if s > best_sim {
                best = a;
                best_sim = s;
            }
        }
        members[best].push(p);
    }
    anchors
        .iter()
        .zip(&members)
        .map(|(&a, mem)| {
            let k = mem.len() as f64;
            let w = (1.0 / (k + 1.0)).max(beta);
            let mut g: Vec<(usize, f64)> = vec![(a, w)];
            if 1.0 - w != 0.0 {
                g.extend(mem.iter().map(|&p| (p, (1.0 - w) / k)));
            }
            g.sort_by_key(|&(i, _)| i);
            let mut merged: Vec<(usize, f64)> = Vec::with_capacity(g.len());
            for (i, v) in g {
                match merged.last_mut() {
                    Some(last) if last.0 == i => last.1 += v,
                    _ => merged.push((i, v)),
                }
            }
            merged
                .into_iter()
                .map(|(i, v)| (i as u32, v as f32))
                .collect()
        })
        .collect()
}

impl Rule for FastVid {
    const KIND: &'static str = KIND;

    fn needs(&self) -> Needs {
        Needs {
            attention: true,
            ..Needs::default()
        }
    }

    fn plan(&self, x: &Input) -> Result<Plan> {
        let (t, n, c) = (x.t, x.n, x.c);
        if self.dtm_p == 0 {
            return Err(param(
                "dtm_p",
                "0 anchor-frame period; use 1 or more".into(),
            ));
        }
        if !(0.0..=1.0).contains(&self.dtm_beta) {
            return Err(param(
                "dtm_beta",
                format!("{} is not in [0, 1]", self.dtm_beta),
            ));
        }
        let (salient, context) = self.budgets(n)?;
        let attention = x.require_attention(KIND)?;
        let rows = rows_f64(x);
        let sizes = self.segments(x, &rows)?;
        let p = self.dtm_p;
        let mut anchors_per_frame = vec![0usize; t];
        let mut offset = 0;
        for &len in &sizes {
            let cur = context * len / len.div_ceil(p);
            for j in 0..len {
                if (len - 1 - j) % p == 0 {
                    anchors_per_frame[offset + j] = cur;
                }
            }
            offset += len;
        }
        // (own flat index, group) of every kept token; sorted by the index at the end.
        let mut kept: Vec<(usize, Vec<(u32, f32)>)> = Vec::new();
        let mut filtered: Vec<Vec<usize>> = Vec::with_capacity(t);
        let mut scores: Vec<Vec<f64>> = Vec::with_capacity(t);
        for f in 0..t {
            let att: Vec<f64> = attention[f * n..(f + 1) * n]
                .iter()
                .map(|&a| a as f64)
                .collect();
            let mut is_salient = vec![false; n];
            for i in topk_desc(&att, salient) {
                is_salient[i] = true;
                kept.push((f * n + i, vec![((f * n + i) as u32, 1.0)]));
            }
            let rest: Vec<usize> = (0..n)
                .filter(|&i| !is_salient[i])
                .map(|i| f * n + i)
                .collect();
            let sub: Vec<f64> = rest
                .iter()
                .flat_map(|&i| rows[i * c..(i + 1) * c].iter().copied())
                .collect();
            scores.push(density_scores(&sub, c));
            filtered.push(rest);
        }
        let m = n - salient;
        let top = |f: usize, k: usize| -> Vec<usize> {
            topk_desc(&scores[f], k)
                .into_iter()
                .map(|j| filtered[f][j])
                .collect()
        };
        for f in (0..t).filter(|&f| anchors_per_frame[f] == context) {
            let anchors = top(f, context);
            let groups = dtm(&rows, c, &anchors, &filtered[f], self.dtm_beta);
            kept.extend(anchors.into_iter().zip(groups));
        }
        let mut start = 0;
        for &len in &sizes {
            if len > 1 {
                let cur = anchors_per_frame[start + len - 1];
                let pool: Vec<usize> = filtered[start..start + len].concat();
                for f in (start..start + len).filter(|&f| anchors_per_frame[f] > context) {
                    if cur > m {
                        return Err(param(
                            "dtm_p",
                            format!(
                                "a segment of {len} frames gives its anchor frames {cur} anchors, \
                                 more than the {m} non-salient tokens of a frame"
                            ),
                        ));
                    }
                    let anchors = top(f, cur);
                    let groups = dtm(&rows, c, &anchors, &pool, self.dtm_beta);
                    kept.extend(anchors.into_iter().zip(groups));
                }
            }
            start += len;
        }
        kept.sort_by_key(|(i, _)| *i);
        Ok(Plan {
            groups: kept.into_iter().map(|(_, g)| g).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_official_video_settings() {
        let m = FastVid::default();
        assert_eq!((m.retention_ratio, m.dyseg_c, m.dyseg_tau), (0.10, 8, 0.9));
        assert_eq!((m.stprune_d, m.dtm_p, m.dtm_beta), (0.4, 4, 0.6));
        // LLaVA-OneVision's 14×14 frames: retain 19 = 12 salient + 7 anchors.
        assert_eq!(m.budgets(196).unwrap(), (12, 7));
    }

    #[test]
    fn budgets_the_official_code_cannot_run_name_their_parameter() {
        let data = vec![1.0f32; 4 * 16 * 2];
        let x = Input::new(&data, 4, 16, 2).unwrap();
        let e = FastVid::default().segments(&x, &rows_f64(&x)).unwrap_err();
        assert!(e.to_string().contains("`dyseg_c`"), "{e}");
        // int(16·0.1) = 1 retained, int(1·0.4) = 0 anchors.
        let e = FastVid::default().budgets(16).unwrap_err();
        assert!(e.to_string().contains("`stprune_d`"), "{e}");
        let m = FastVid {
            retention_ratio: 0.01,
            ..FastVid::default()
        };
        assert!(
            m.budgets(16)
                .unwrap_err()
                .to_string()
                .contains("`retention_ratio`")
        );
    }

    #[test]
    fn segments_cut_at_the_least_similar_pairs_and_below_tau() {
        // Frames (1,0) (1,0) (0,1) (0,1): similarities 1, 0, 1.
        let data = [1.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0];
        let x = Input::new(&data, 4, 1, 2).unwrap();
        let rows = rows_f64(&x);
        let seg = |dyseg_c, dyseg_tau| {
            let m = FastVid {
                dyseg_c,
                dyseg_tau,
                ..FastVid::default()
            };
            m.segments(&x, &rows).unwrap()
        };
        assert_eq!(seg(1, 0.5), vec![2, 2]);
        assert_eq!(seg(2, -1.0), vec![2, 2]);
        // The tie between pairs 0 and 2 goes to the lower index.
        assert_eq!(seg(3, -1.0), vec![1, 1, 2]);
        assert_eq!(seg(1, -1.0), vec![4]);
    }

    #[test]
    fn dtm_weights_the_anchor_by_beta_and_averages_its_members() {
        // Anchor 0 = (1, 0); tokens 1, 2 lean to it, token 3 to anchor 3 = (0, 1).
        let rows = [1.0, 0.0, 2.0, 0.1, 3.0, -0.1, 0.0, 1.0];
        let g = dtm(&rows, 2, &[0, 3], &[0, 1, 2, 3], 0.6);
        // Anchor 0 has 3 members: w = max(1/4, 0.6); each member (1 − w)/3.
        let third = 0.4f64 / 3.0;
        assert_eq!(
            g[0],
            vec![
                (0, (0.6 + third) as f32),
                (1, third as f32),
                (2, third as f32)
            ]
        );
        // Anchor 3 has itself only: w = max(1/2, 0.6) = 0.6, plus 0.4 as its own mean.
        assert_eq!(g[1], vec![(3, 1.0)]);
        // beta = 1 keeps anchors unmerged.
        assert_eq!(dtm(&rows, 2, &[0], &[0, 1, 2], 1.0)[0], vec![(0, 1.0)]);
    }
}
