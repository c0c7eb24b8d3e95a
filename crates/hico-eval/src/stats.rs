//! Statistics of an ablation: the 95 % Wilson score interval of a cell's accuracy, and the
//! exact McNemar test of two cells scored on the same questions (paired).
//!
//! Known values are checked in the tests: the Wilson intervals against the published table of
//! Newcombe (1998), "Two-sided confidence intervals for the single proportion", method 3;
//! the McNemar p-values against exact binomial sums.

use serde::{Deserialize, Serialize};

/// The 0.975 quantile of the standard normal: a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// A proportion with its 95 % Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    /// Successes.
    pub k: usize,
    /// Trials.
    pub n: usize,
    /// `k / n` (0 when `n = 0`).
    pub p: f64,
    /// Lower end of the 95 % Wilson interval.
    pub low: f64,
    /// Upper end of the 95 % Wilson interval.
    pub high: f64,
}

/// `k` successes out of `n` with the Wilson score interval at normal quantile `z`
/// (use [`Z95`]). With `n = 0` the interval is the whole `[0, 1]`.
///
/// The interval is `(p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)`: unlike the
/// normal approximation it stays inside `[0, 1]` and is sensible at `k = 0` or `k = n`.
pub fn wilson(k: usize, n: usize, z: f64) -> Proportion {
    assert!(k <= n, "wilson: {k} successes out of {n} trials");
    if n == 0 {
        return Proportion {
            k,
            n,
            p: 0.0,
            low: 0.0,
            high: 1.0,
        };
    }
    let (kf, nf) = (k as f64, n as f64);
    let p = kf / nf;
    let z2 = z * z;
    let denom = 1.0 + z2 / nf;
    let centre = (p + z2 / (2.0 * nf)) / denom;
    let half = z / denom * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    Proportion {
        k,
        n,
        p,
        low: (centre - half).max(0.0),
        high: (centre + half).min(1.0),
    }
}

/// Two-sided exact McNemar test: the p-value of `b` discordant pairs one way and `c` the
/// other under the null that both ways are equally likely, i.e. the two-sided exact binomial
/// test of `min(b, c)` out of `b + c` at ½: `min(1, 2·P(X ≤ min(b, c)))`. It is 1 when
/// there is no discordant pair.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // P(X = i) = C(n, i) / 2^n, summed in log space (n may be in the thousands).
    let ln2n = n as f64 * std::f64::consts::LN_2;
    let mut ln_choose = 0.0f64; // ln C(n, 0)
    let mut tail = 0.0f64;
    for i in 0..=k {
        if i > 0 {
            ln_choose += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        tail += (ln_choose - ln2n).exp();
    }
    (2.0 * tail).min(1.0)
}

/// Two cells compared on the same questions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// What the comparison tests (e.g. `ToMe vs pool at 1 token/frame`).
    pub claim: String,
    /// The first cell (the one the claim expects to be better).
    pub a: String,
    /// The second cell.
    pub b: String,
    /// Questions scored by both cells.
    pub n: usize,
    /// Right in both.
    pub both: usize,
    /// Right in `a` only.
    pub a_only: usize,
    /// Right in `b` only.
    pub b_only: usize,
    /// Wrong in both.
    pub neither: usize,
    /// Accuracy of `a` on the paired questions.
    pub acc_a: f64,
    /// Accuracy of `b` on the paired questions.
    pub acc_b: f64,
    /// Two-sided exact McNemar p-value of `a_only` against `b_only`.
    pub p_value: f64,
}

impl Paired {
    /// Compare `a` and `b` from `(question id, correct)` lists; only questions present in
    /// both count (a question skipped by one cell is left out of the pairing).
    pub fn new(
        claim: &str,
        (a, a_scores): (&str, &[(String, bool)]),
        (b, b_scores): (&str, &[(String, bool)]),
    ) -> Self {
        let b_map: std::collections::HashMap<&str, bool> =
            b_scores.iter().map(|(id, c)| (id.as_str(), *c)).collect();
        let (mut both, mut a_only, mut b_only, mut neither) = (0, 0, 0, 0);
        for (id, ca) in a_scores {
            let Some(&cb) = b_map.get(id.as_str()) else {
                continue;
            };
            match (*ca, cb) {
                (true, true) => both += 1,
                (true, false) => a_only += 1,
                (false, true) => b_only += 1,
                (false, false) => neither += 1,
            }
        }
        let n = both + a_only + b_only + neither;
        let frac = |k: usize| if n == 0 { 0.0 } else { k as f64 / n as f64 };
        Self {
            claim: claim.to_string(),
            a: a.to_string(),
            b: b.to_string(),
            n,
            both,
            a_only,
            b_only,
            neither,
            acc_a: frac(both + a_only),
            acc_b: frac(both + b_only),
            p_value: mcnemar_exact(a_only, b_only),
        }
    }

    /// A one-line verdict at the 5 % level, in words.
    pub fn verdict(&self) -> String {
        let p = fmt_p(self.p_value);
        if self.p_value < 0.05 {
            let better = if self.acc_a > self.acc_b {
                &self.a
            } else {
                &self.b
            };
            format!("{better} better (p = {p})")
        } else {
            format!("no significant difference (p = {p})")
        }
    }
}

/// A p-value for tables: 3 decimals, or scientific notation below 0.001.
pub fn fmt_p(p: f64) -> String {
    if p < 1e-3 {
        format!("{p:.1e}")
    } else {
        format!("{p:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r4(x: f64) -> f64 {
        (x * 1e4).round() / 1e4
    }

    #[test]
    fn wilson_matches_newcombe_1998_table() {
        // Newcombe (1998), Table I, method 3 (score interval without continuity correction).
        for (k, n, low, high) in [
            (81, 263, 0.2553, 0.3662),
            (15, 148, 0.0624, 0.1605),
            (0, 20, 0.0, 0.1611),
            (1, 29, 0.0061, 0.1718),
        ] {
            let w = wilson(k, n, Z95);
            assert_eq!((r4(w.low), r4(w.high)), (low, high), "{k}/{n}");
        }
        // All right: the upper end is 1, the lower end 1 − the all-wrong upper end.
        let (all, none) = (wilson(20, 20, Z95), wilson(0, 20, Z95));
        assert_eq!(all.high, 1.0);
        assert!((all.low - (1.0 - none.high)).abs() < 1e-12);
        assert_eq!((wilson(0, 0, Z95).low, wilson(0, 0, Z95).high), (0.0, 1.0));
    }

    #[test]
    fn mcnemar_matches_exact_binomial_sums() {
        // 2·(1 + 9)/2^10 = 11/512 (R: binom.test(1, 10)$p.value = 0.02148438).
        assert!((mcnemar_exact(1, 9) - 11.0 / 512.0).abs() < 1e-15);
        assert!((mcnemar_exact(9, 1) - 11.0 / 512.0).abs() < 1e-15);
        assert!((mcnemar_exact(0, 5) - 1.0 / 16.0).abs() < 1e-15);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(0, 1), 1.0);
        // 2·Σ_{i≤10} C(35, i)/2^35 = 71613631/2^32.
        assert!((mcnemar_exact(10, 25) - 71_613_631.0 / 4_294_967_296.0).abs() < 1e-12);
        // 40 vs 60: 0.0568879336409808 (exact rational sum).
        assert!((mcnemar_exact(40, 60) - 0.056_887_933_640_980_8).abs() < 1e-12);
        // Large n stays finite: 1000 vs 1000 is 1, 900 vs 1100 tiny but > 0.
        assert_eq!(mcnemar_exact(1000, 1000), 1.0);
        let p = mcnemar_exact(900, 1100);
        assert!(p > 0.0 && p < 1e-5, "{p}");
    }

    #[test]
    fn paired_counts_only_shared_questions() {
        let s = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
            v.iter().map(|(i, c)| (i.to_string(), *c)).collect()
        };
        let a = s(&[
            ("q1", true),
            ("q2", true),
            ("q3", false),
            ("q4", true),
            ("q5", true),
        ]);
        let b = s(&[("q1", true), ("q2", false), ("q3", true), ("q4", false)]);
        let p = Paired::new("t", ("a", &a), ("b", &b));
        assert_eq!(
            (p.n, p.both, p.a_only, p.b_only, p.neither),
            (4, 1, 2, 1, 0)
        );
        assert_eq!((p.acc_a, p.acc_b), (0.75, 0.5));
        assert_eq!(p.p_value, 1.0);
        assert!(p.verdict().starts_with("no significant"));
    }
}
