//! Shared math for the methods, in f64 so that decisions (rankings, thresholds) do not hinge
//! on f32 summation order; the Python references (`scripts/compress_ref/`) compute in f64 too.
//!
//! Ranking rule everywhere: higher score first, ties to the lower index (a stable sort).

use crate::Input;

/// Rows of `x` as f64, `[t·n, c]`.
pub fn rows_f64(x: &Input) -> Vec<f64> {
    x.tokens.iter().map(|&v| v as f64).collect()
}

/// Each row divided by its L2 norm (at least 1e-12, as `torch.nn.functional.normalize`).
pub fn normalize_rows(data: &[f64], c: usize) -> Vec<f64> {
    let mut out = data.to_vec();
    for row in out.chunks_exact_mut(c) {
        let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-12);
        row.iter_mut().for_each(|v| *v /= norm);
    }
    out
}

/// Dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `a · bᵀ` for row-major `a` `[m, c]` and `b` `[k, c]`: `[m, k]`.
pub fn matmul_t(a: &[f64], b: &[f64], c: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(a.len() / c * (b.len() / c));
    for ra in a.chunks_exact(c) {
        out.extend(b.chunks_exact(c).map(|rb| dot(ra, rb)));
    }
    out
}

/// Mean of `rows` (each `c` wide) of `data`.
pub fn mean_rows(data: &[f64], c: usize, rows: impl IntoIterator<Item = usize>) -> Vec<f64> {
    let mut acc = vec![0f64; c];
    let mut count = 0usize;
    for r in rows {
        for (a, v) in acc.iter_mut().zip(&data[r * c..(r + 1) * c]) {
            *a += v;
        }
        count += 1;
    }
    acc.iter_mut().for_each(|a| *a /= count.max(1) as f64);
    acc
}

/// Density-peak (DPC-KNN) scores of the `m` rows of `x` (`[m, c]`), as FastVID, PruneVid and
/// HoliTom compute them (each in its `cluster_dpc_knn()` / density step, without the random
/// noise): `d` is the Euclidean distance over `√c`; a row's density is
/// `exp(−mean of its k smallest d²)` (itself included); its score is that density times the
/// distance to the nearest row of strictly higher density (the largest distance of all when
/// none is denser). Returns `(scores [m], distances [m, m])`.
pub fn dpc_knn(x: &[f64], c: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let m = x.len() / c;
    let scale = (c as f64).sqrt();
    let mut dist = vec![0f64; m * m];
    for i in 0..m {
        for j in 0..m {
            let (a, b) = (&x[i * c..(i + 1) * c], &x[j * c..(j + 1) * c]);
            let s: f64 = a.iter().zip(b).map(|(p, q)| (p - q) * (p - q)).sum();
            dist[i * m + j] = s.sqrt() / scale;
        }
    }
    let density: Vec<f64> = dist
        .chunks_exact(m.max(1))
        .map(|row| {
            let mut r = row.to_vec();
            r.sort_by(f64::total_cmp);
            let s: f64 = r[..k.min(m)].iter().map(|d| d * d).sum();
            (-(s / k as f64)).exp()
        })
        .collect();
    let dist_max = dist.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let score = (0..m)
        .map(|i| {
            let to_denser = (0..m)
                .filter(|&j| density[j] > density[i])
                .map(|j| dist[i * m + j])
                .fold(dist_max, f64::min);
            to_denser * density[i]
        })
        .collect();
    (score, dist)
}

/// Indices sorted by descending score, ties to the lower index.
pub fn argsort_desc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx
}

/// Indices sorted by ascending score, ties to the lower index.
pub fn argsort_asc(scores: &[f64]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]).then(a.cmp(&b)));
    idx
}

/// The `k` highest scores' indices, highest first, ties to the lower index.
pub fn topk_desc(scores: &[f64], k: usize) -> Vec<usize> {
    let mut idx = argsort_desc(scores);
    idx.truncate(k);
    idx
}

/// Python's `round(x)`: to the nearest integer, halves to the even one.
pub fn py_round(x: f64) -> i64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 {
        let f = x.floor();
        if (f as i64) % 2 == 0 {
            f as i64
        } else {
            f as i64 + 1
        }
    } else {
        r as i64
    }
}

/// SplitMix64: a tiny seedable generator that the Python references reproduce exactly.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (`n > 0`), by the remainder (the bias is below 2⁻³² for the sizes
    /// used here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(py_round(0.5), 0);
        assert_eq!(py_round(1.5), 2);
        assert_eq!(py_round(2.5), 2);
        assert_eq!(py_round(-0.5), 0);
        assert_eq!(py_round(-1.5), -2);
        assert_eq!(py_round(2.4), 2);
        assert_eq!(py_round(2.6), 3);
    }

    #[test]
    fn ties_go_to_the_lower_index() {
        assert_eq!(topk_desc(&[1.0, 3.0, 3.0, 2.0], 3), vec![1, 2, 3]);
        assert_eq!(argsort_asc(&[2.0, 1.0, 1.0]), vec![1, 2, 0]);
    }

    #[test]
    fn splitmix_known_values() {
        // First outputs for seed 0 (the published SplitMix64 reference sequence).
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(r.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }
}
