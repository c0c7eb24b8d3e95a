"""Reference values for hico-eval's `stats::cmh_paired` (the Cochran-Mantel-Haenszel test of
two cells over several seeds, i.e. the stratified McNemar test), computed independently of
its closed form: statsmodels' StratifiedTable over one 2 x 2 table per (seed, question) pair
(rows: cell a, cell b; columns: right, wrong), `test_null_odds(correction=False)`.
Concordant pairs are included (they carry no information, as the test says). Run:
`python scripts/stats_reference.py` (needs numpy, scipy, statsmodels); prints the values the
Rust test `cmh_matches_statsmodels_stratified_tables` holds."""

import numpy as np
from scipy.stats import chi2
from statsmodels.stats.contingency_tables import StratifiedTable


def pair_tables(a_only, b_only, both=2, neither=1):
    """One 2x2 table per question of one seed."""
    t = []
    t += [[[1, 0], [0, 1]]] * a_only  # a right, b wrong
    t += [[[0, 1], [1, 0]]] * b_only  # a wrong, b right
    t += [[[1, 0], [1, 0]]] * both
    t += [[[0, 1], [0, 1]]] * neither
    return t


CASES = [
    [(3, 0), (5, 1), (0, 2)],
    [(27, 0), (30, 2), (25, 1)],
    [(6, 0)],
    [(10, 25), (12, 12)],
]

for strata in CASES:
    tables = []
    for a_only, b_only in strata:
        tables += pair_tables(a_only, b_only)
    st = StratifiedTable(np.array(tables, dtype=float).transpose(1, 2, 0))
    r = st.test_null_odds(correction=False)
    print(strata, repr(float(r.statistic)), repr(float(r.pvalue)),
          "chi2.sf:", repr(float(chi2.sf(r.statistic, 1))))
