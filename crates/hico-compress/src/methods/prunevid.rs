//! `prunevid`: the spatial-temporal token merging of PruneVid ("PruneVid: Visual Token Pruning
//! for Efficient Video Large Language Models", ACL 2025 Findings, arXiv 2412.16117).
//!
//! From `Visual-AI/PruneVid`, `models/pllava/modeling_pllava.py`:
//! `PllavaForConditionalGeneration.merge_frames_dynamic()` (called in `forward()` with
//! `threshold=config.tau, k=7`) with `cluster_dpc_knn()`, `refine_clusters()`,
//! `segment_lengths()`, `spatial_merge_tokens()` and `compute_cluster_vectors()`.
//!
//! 1. The frames' global features (the mean of each frame's tokens) are clustered by DPC-KNN
//!    into `int(T · temporal_segment_ratio)` clusters with `k` neighbours; `refine_clusters`
//!    keeps each cluster's longest run(s) of consecutive frames and hands the other runs to
//!    the longer neighbouring run (the left one on ties); the runs of equal labels are the
//!    segments.
//! 2. Per segment of `W` frames, a position is *static* when the mean cosine similarity of
//!    its token over the `W·(W−1)` ordered frame pairs exceeds `tau`. Static tokens are
//!    averaged over the segment's frames; if more than 14, they are clustered (DPC-KNN, 7
//!    neighbours, `int(S · cluster_ratio)` clusters) and each cluster is replaced by its mean.
//!    The other (*dynamic*) positions are treated the same way frame by frame.
//! 3. Output: per segment, its static tokens, then each frame's dynamic tokens; clusters in
//!    the DPC-KNN's center order (by score, highest first), kept tokens in position order.
//!
//! The densities' random noise of the official code is left out (the contract); its `topk`
//! ties go to the lower index.

use serde::{Deserialize, Serialize};

use crate::util::{dot, mean_rows, normalize_rows, rows_f64, topk_desc};
use crate::{CompressError, Input, Plan, Result, Rule};

/// Neighbours of the spatial DPC-KNN (the literal `k=7` of `merge_frames_dynamic`'s calls of
/// `spatial_merge_tokens`).
pub const SPATIAL_K: usize = 7;
/// A static or dynamic token set is clustered only when it holds more than this many tokens
/// (the literal `14` of `merge_frames_dynamic`).
pub const MIN_CLUSTERED: usize = 14;

/// Parameters of `prunevid` (the names of the official code; defaults from its
/// `scripts/eval.sh` for PLLaVA and the `k=7` of `forward()`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PruneVid {
    /// Threshold on a position's mean cosine similarity across a segment's frames above
    /// which its tokens are static (`config.tau`, 0.8).
    pub tau: f64,
    /// Temporal clusters as a fraction of the frames, `int(T · ratio)` (0.25).
    pub temporal_segment_ratio: f64,
    /// Spatial clusters as a fraction of a static or dynamic set, `int(S · ratio)` (0.5).
    pub cluster_ratio: f64,
    /// Neighbours of the temporal DPC-KNN on the frames' global features (7).
    pub k: usize,
}

impl Default for PruneVid {
    fn default() -> Self {
        Self {
            tau: 0.8,
            temporal_segment_ratio: 0.25,
            cluster_ratio: 0.5,
            k: 7,
        }
    }
}

fn param(param: &'static str, msg: String) -> CompressError {
    CompressError::Param {
        method: "prunevid",
        param,
        msg,
    }
}

/// DPC-KNN (`cluster_dpc_knn()`, without the noise) on `m` rows of `x` (`[m, c]`, f64):
/// each row's cluster in `0..cluster_num`, cluster `j` being the `j`-th center by score.
pub fn cluster_dpc_knn(x: &[f64], c: usize, cluster_num: usize, k: usize) -> Vec<usize> {
    let m = x.len() / c;
    let (score, dist) = crate::util::dpc_knn(x, c, k);
    let centers = topk_desc(&score, cluster_num);
    let mut label: Vec<usize> = (0..m)
        .map(|i| {
            // argmin over the centers, the first on ties
            let mut best = 0;
            for (j, &ctr) in centers.iter().enumerate() {
                if dist[ctr * m + i] < dist[centers[best] * m + i] {
                    best = j;
                }
            }
            best
        })
        .collect();
    for (j, &ctr) in centers.iter().enumerate() {
        label[ctr] = j;
    }
    label
}

/// `refine_clusters()`: keep each cluster's longest run(s) of consecutive frames (none when
/// all its runs are single frames); every other run joins the longer neighbouring run, the
/// left one on ties, cluster 0 when it has no neighbour.
pub fn refine_clusters(labels: &[usize]) -> Vec<i64> {
    let n = labels.len();
    let mut refined: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    let mut distinct = labels.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for &label in &distinct {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for i in (0..n).filter(|&i| labels[i] == label) {
            match runs.last_mut() {
                Some((_, end)) if *end + 1 == i => *end = i,
                _ => runs.push((i, i)),
            }
        }
        let longest = runs.iter().map(|(s, e)| e - s + 1).max().unwrap_or(0);
        for &(s, e) in &runs {
            if longest == 1 || e - s + 1 != longest {
                refined[s..=e].iter_mut().for_each(|v| *v = -1);
            }
        }
    }
    let run_len = |r: &[i64], from: usize, step_left: bool| {
        let label = r[from];
        if step_left {
            r[..=from].iter().rev().take_while(|&&v| v == label).count()
        } else {
            r[from..].iter().take_while(|&&v| v == label).count()
        }
    };
    let mut idx = 0;
    while idx < n {
        if refined[idx] != -1 {
            idx += 1;
            continue;
        }
        let start = idx;
        while idx < n && refined[idx] == -1 {
            idx += 1;
        }
        let end = idx - 1;
        let left = (start > 0).then(|| (refined[start - 1], run_len(&refined, start - 1, true)));
        let right = (end + 1 < n).then(|| (refined[end + 1], run_len(&refined, end + 1, false)));
        let (ll, rl) = (left.map_or(0, |l| l.1), right.map_or(0, |r| r.1));
        let new_label = if ll > rl {
            left.map(|l| l.0)
        } else if rl > ll {
            right.map(|r| r.0)
        } else {
            left.or(right).map(|l| l.0)
        }
        .unwrap_or(0);
        refined[start..=end].iter_mut().for_each(|v| *v = new_label);
    }
    refined
}

/// `segment_lengths()`: lengths of the runs of equal consecutive labels.
pub fn segment_lengths(labels: &[i64]) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut run = 1;
    for w in labels.windows(2) {
        if w[0] == w[1] {
            run += 1;
        } else {
            lengths.push(run);
            run = 1;
        }
    }
    if !labels.is_empty() {
        lengths.push(run);
    }
    lengths
}

impl PruneVid {
    /// A token set (`feats` `[s, c]`, each row standing for the flat indices of `groups`)
    /// merged as `spatial_merge_tokens()` when it holds more than [`MIN_CLUSTERED`] tokens.
    fn merge_set(&self, feats: &[f64], c: usize, groups: Vec<Vec<usize>>) -> Vec<Vec<usize>> {
        let s = groups.len();
        if s <= MIN_CLUSTERED {
            return groups;
        }
        let num_cluster = (s as f64 * self.cluster_ratio) as usize;
        let label = cluster_dpc_knn(feats, c, num_cluster, SPATIAL_K);
        let mut out = vec![Vec::new(); num_cluster];
        for (g, &l) in groups.into_iter().zip(&label) {
            out[l].extend(g);
        }
        out
    }
}

impl Rule for PruneVid {
    const KIND: &'static str = "prunevid";

    fn plan(&self, x: &Input) -> Result<Plan> {
        let (t, n, c) = (x.t, x.n, x.c);
        if t < 2 {
            return Err(CompressError::Input {
                method: "prunevid",
                msg: format!(
                    "needs at least 2 frames (a one-frame segment's similarity is 0/0 in the \
                     official code); got t = {t}"
                ),
            });
        }
        let cluster_num = (t as f64 * self.temporal_segment_ratio) as usize;
        if cluster_num == 0 || cluster_num > t {
            return Err(param(
                "temporal_segment_ratio",
                format!(
                    "{} gives int({t}·ratio) = {cluster_num} temporal clusters; need 1 ..= {t}",
                    self.temporal_segment_ratio
                ),
            ));
        }
        if self.k == 0 || self.k > t {
            return Err(param(
                "k",
                format!("{} neighbours among {t} frames; need 1 ..= {t}", self.k),
            ));
        }
        let smallest = MIN_CLUSTERED + 1;
        if n >= smallest
            && !(self.cluster_ratio <= 1.0 && (smallest as f64 * self.cluster_ratio) as usize >= 1)
        {
            return Err(param(
                "cluster_ratio",
                format!(
                    "{} gives int(S·ratio) clusters outside 1 ..= S for a set of S ≥ {smallest} \
                     tokens; use a ratio in [1/{smallest}, 1]",
                    self.cluster_ratio
                ),
            ));
        }

        let rows = rows_f64(x);
        let frame_means: Vec<f64> = (0..t)
            .flat_map(|f| mean_rows(&rows, c, f * n..(f + 1) * n))
            .collect();
        let labels = cluster_dpc_knn(&frame_means, c, cluster_num, self.k);
        let windows = segment_lengths(&refine_clusters(&labels));
        let normed = normalize_rows(&rows, c);

        let mut groups: Vec<Vec<usize>> = Vec::new();
        let mut start = 0;
        for w in windows {
            let frames = start..start + w;
            let mut static_pos = Vec::new();
            let mut dynamic_pos = Vec::new();
            for l in 0..n {
                let tok = |f: usize| &normed[(f * n + l) * c..(f * n + l + 1) * c];
                let mut total = 0f64;
                for a in frames.clone() {
                    let s: f64 = frames.clone().map(|b| dot(tok(a), tok(b))).sum();
                    total += s - 1.0;
                }
                if total / (w * (w - 1)) as f64 > self.tau {
                    static_pos.push(l);
                } else {
                    dynamic_pos.push(l);
                }
            }
            // static: the mean over the segment's frames, then clustered
            let feats: Vec<f64> = static_pos
                .iter()
                .flat_map(|&l| mean_rows(&rows, c, frames.clone().map(|f| f * n + l)))
                .collect();
            let members = static_pos
                .iter()
                .map(|&l| frames.clone().map(|f| f * n + l).collect())
                .collect();
            groups.extend(self.merge_set(&feats, c, members));
            // dynamic: frame by frame
            for f in frames.clone() {
                let feats: Vec<f64> = dynamic_pos
                    .iter()
                    .flat_map(|&l| rows[(f * n + l) * c..(f * n + l + 1) * c].iter().copied())
                    .collect();
                let members = dynamic_pos.iter().map(|&l| vec![f * n + l]).collect();
                groups.extend(self.merge_set(&feats, c, members));
            }
            start += w;
        }
        Ok(Plan::means(groups))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refine_keeps_longest_runs_and_hands_the_rest_to_the_longer_neighbour() {
        // cluster 1's runs are single frames: both go; the one at 3 sits between two runs of
        // 3 frames (the left one wins), the one at 7 joins its left neighbour
        assert_eq!(
            refine_clusters(&[0, 0, 0, 1, 2, 2, 2, 1]),
            [0, 0, 0, 0, 2, 2, 2, 2]
        );
        // 0's run at 2 is not its longest; both neighbours are 2 long: the left one wins
        assert_eq!(
            refine_clusters(&[1, 1, 0, 0, 0, 2, 2]),
            [1, 1, 0, 0, 0, 2, 2]
        );
        assert_eq!(
            refine_clusters(&[1, 1, 0, 2, 2, 0, 0]),
            [1, 1, 1, 2, 2, 0, 0]
        );
        // nothing kept: everything becomes cluster 0
        assert_eq!(refine_clusters(&[0, 1, 2]), [0, 0, 0]);
        assert_eq!(segment_lengths(&[1, 1, 1, 2, 2, 0, 0]), [3, 2, 2]);
    }

    #[test]
    fn dpc_knn_centers_are_labelled_in_score_order() {
        // points 0, 1, 3 on a line, k = 2: densities e^-0.5, e^-0.5, e^-2; scores 3·e^-0.5
        // (no denser point: the largest distance), the same, 2·e^-2: centers 0 then 1 (the
        // tie to the lower index); point 3 is nearer to center 1
        assert_eq!(cluster_dpc_knn(&[0.0, 1.0, 3.0], 1, 2, 2), [0, 1, 1]);
    }

    #[test]
    fn identical_frames_are_one_static_set() {
        // 2 frames of 4 tokens, the second a copy of the first: every position is static
        let frame = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, -1.0, 0.5];
        let data: Vec<f32> = frame.iter().chain(&frame).copied().collect();
        let x = Input::new(&data, 2, 4, 2).unwrap();
        let m = PruneVid {
            temporal_segment_ratio: 0.5,
            k: 2,
            ..PruneVid::default()
        };
        let p = m.plan(&x).unwrap();
        assert_eq!(p.source(), vec![0, 1, 2, 3]);
        assert_eq!(p.apply(&x), frame.to_vec());
    }

    #[test]
    fn budgets_the_official_code_cannot_run_are_refused() {
        let data = vec![0.5f32; 8 * 16 * 2];
        let x = Input::new(&data, 8, 16, 2).unwrap();
        let e = |m: PruneVid| m.plan(&x).unwrap_err().to_string();
        let d = PruneVid::default();
        assert!(
            e(PruneVid {
                temporal_segment_ratio: 0.1,
                ..d.clone()
            })
            .contains("temporal_segment_ratio")
        );
        assert!(e(PruneVid { k: 9, ..d.clone() }).contains("`k`"));
        assert!(
            e(PruneVid {
                cluster_ratio: 0.05,
                ..d.clone()
            })
            .contains("cluster_ratio")
        );
        assert!(
            e(PruneVid {
                cluster_ratio: 1.5,
                ..d
            })
            .contains("cluster_ratio")
        );
        let one = Input::new(&data[..32], 1, 16, 2).unwrap();
        assert!(PruneVid::default().plan(&one).is_err());
    }
}
