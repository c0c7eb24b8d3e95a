//! Statistics of an ablation: the 95 % Wilson score interval of a cell's accuracy, the
//! exact McNemar test of two cells scored on the same questions (paired), and the
//! Cochran-Mantel-Haenszel test of the same comparison over several trained models (seeds):
//! the stratified McNemar test.
//!
//! Known values are checked in the tests: the Wilson intervals against the published table of
//! Newcombe (1998), "Two-sided confidence intervals for the single proportion", method 3;
//! the McNemar p-values against exact binomial sums; the CMH statistic and p-value against
//! statsmodels' `StratifiedTable.test_null_odds(correction=False)` on one 2 × 2 table per
//! (seed, question) pair (`scripts/stats_reference.py`).

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

/// The Cochran-Mantel-Haenszel test of two cells scored on the same questions by several
/// models (strata = seeds), for paired binary outcomes: the stratified McNemar test.
///
/// Each (seed, question) pair is one stratum: a 2 × 2 table of cell (a, b) × outcome (right,
/// wrong) with one observation per row. A concordant pair has no variance and adds nothing; a
/// discordant one adds `±½` to `Σ (x − E x)` and `¼` to `Σ Var x`, so the statistic is
/// `(B − C)² / (B + C)` with `B = Σ_s a_only_s`, `C = Σ_s b_only_s` (no continuity
/// correction), χ² with 1 degree of freedom under the null of no difference in any seed. The
/// test weighs every discordant question alike, so a seed with more discordant questions
/// counts more; it is McNemar's test on the pooled discordant pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cmh {
    /// Discordant pairs right in `a` only, summed over the strata.
    pub a_only: usize,
    /// Discordant pairs right in `b` only, summed over the strata.
    pub b_only: usize,
    /// The χ² statistic (1 degree of freedom); 0 with no discordant pair.
    pub statistic: f64,
    /// Its two-sided p-value (1 with no discordant pair).
    pub p_value: f64,
}

/// The CMH (stratified McNemar) test of the strata's discordant counts `(a_only, b_only)`.
pub fn cmh_paired(strata: &[(usize, usize)]) -> Cmh {
    let (b, c) = strata.iter().fold((0, 0), |(b, c), &(x, y)| (b + x, c + y));
    if b + c == 0 {
        return Cmh {
            a_only: 0,
            b_only: 0,
            statistic: 0.0,
            p_value: 1.0,
        };
    }
    let d = b as f64 - c as f64;
    let statistic = d * d / (b + c) as f64;
    Cmh {
        a_only: b,
        b_only: c,
        statistic,
        p_value: chi2_1_sf(statistic),
    }
}

/// The survival function of χ² with 1 degree of freedom: `P(X > x) = erfc(sqrt(x / 2))`.
pub fn chi2_1_sf(x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    libm::erfc((x / 2.0).sqrt())
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
    fn cmh_matches_statsmodels_stratified_tables() {
        // Reference: scripts/stats_reference.py (statsmodels 0.15 StratifiedTable over one
        // 2 × 2 table per (seed, question) pair, test_null_odds(correction=False); scipy's
        // chi2.sf for the p-value, which statsmodels rounds to 0 below about 1e-16).
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-9 * want.abs().max(1e-300);
        for (strata, stat, p) in [
            (
                &[(3usize, 0usize), (5, 1), (0, 2)][..],
                2.272727272727273,
                0.13166801602281455,
            ),
            (
                &[(27, 0), (30, 2), (25, 1)][..],
                73.4235294117647,
                1.0461156944282023e-17,
            ),
            (&[(6, 0)][..], 6.0, 0.014305878435429641),
            (
                &[(10, 25), (12, 12)][..],
                3.8135593220338984,
                0.0508393080695017,
            ),
        ] {
            let t = cmh_paired(strata);
            assert!(
                close(t.statistic, stat),
                "{strata:?}: {} vs {stat}",
                t.statistic
            );
            assert!(close(t.p_value, p), "{strata:?}: {} vs {p}", t.p_value);
        }
        let none = cmh_paired(&[(0, 0), (0, 0)]);
        assert_eq!((none.statistic, none.p_value), (0.0, 1.0));
        // One stratum: the statistic is McNemar's χ² without continuity correction.
        assert_eq!(cmh_paired(&[(9, 1)]).statistic, 6.4);
        assert!((chi2_1_sf(3.841_458_820_694_124) - 0.05).abs() < 1e-12);
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
