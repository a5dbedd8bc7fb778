"""The vectorized date digits and per-level weight tables give what the per-pair formulas give."""

from __future__ import annotations

import numpy as np

from matching.comparisons import Levels, packed_digits, packed_errors
from matching.model import ComparisonParams, log_bayes_factors, match_weights


def digit_errors(a: np.ndarray, b: np.ndarray, width: int) -> np.ndarray:
    """The per-pair formula compare_date used: positions at which `width`-digit numbers differ."""
    out = np.zeros(len(a), dtype=np.int64)
    for k in range(width):
        out += (a // 10**k) % 10 != (b // 10**k) % 10
    return out


def test_packed_errors_count_the_differing_digits() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    # unknown parts are -9999; years beyond 4 digits and one-digit typos are both in the mix
    y = rng.choice([-9999, 1967, 1976, 1968, 2967, 19670, 5], size=(2, n))
    m = rng.choice([-9999, 1, 10, 11, 12, 13, 2, 21], size=(2, n))
    d = rng.choice([-9999, 1, 10, 3, 30, 13, 31, 99], size=(2, n))
    want = digit_errors(y[0], y[1], 4) + digit_errors(m[0], m[1], 2) + digit_errors(d[0], d[1], 2)
    got = packed_errors(packed_digits(y[0], m[0], d[0]), packed_digits(y[1], m[1], d[1]))
    assert np.array_equal(got, want)
    assert (want > 1).any() and (want == 1).any() and (want == 0).any()


def _reference_lbf(levels: list[Levels], params: list[ComparisonParams]) -> np.ndarray:
    """The per-pair formula: ln m gathered per pair minus a float32 ln u (term frequency where given)."""
    out = np.zeros((len(levels), len(levels[0].levels)), dtype=np.float32)
    for c, (lv, p) in enumerate(zip(levels, params, strict=True)):
        m, u = np.asarray(p.m), np.asarray(p.u)
        logm = (np.log(np.maximum(m, 1e-12)) + p.shifts() * np.log(2.0))[lv.levels]
        logu = np.log(np.maximum(u, 1e-12))[lv.levels].astype(np.float32)
        if lv.tf is not None:
            hit = ~np.isnan(lv.tf)
            logu[hit] = np.log(np.maximum(lv.tf[hit] * p.tf_scale, 1e-12))
        out[c] = np.where(np.asarray(p.neutral)[lv.levels], 0.0, logm - logu)
    return out


def test_weight_tables_equal_the_per_pair_formula() -> None:
    rng = np.random.default_rng(5)
    n, k = 50_000, 5
    levels, params = [], []
    for c in range(4):
        lv = rng.integers(0, k, n).astype(np.int8)
        tf = None
        if c % 2 == 0:
            tf = np.full(n, np.nan)
            hit = lv == 1
            tf[hit] = rng.random(int(hit.sum())) * 1e-3
        neutral = [i == 0 or (c == 3 and i == 3) for i in range(k)]
        names = [str(i) for i in range(k)]
        levels.append(Levels(f"c{c}", names, neutral, lv, tf, 1 if tf is not None else None))
        m, u = rng.random(k), rng.random(k)
        u[2] = 0.0  # floored at 1e-12
        params.append(
            ComparisonParams(
                f"c{c}", names, (m / m.sum()).tolist(), (u / u.sum()).tolist(), neutral,
                levels[-1].tf_level, shift=rng.normal(size=k).tolist() if c == 1 else [],
                tf_scale=0.7 if c == 2 else 1.0,
            )
        )  # fmt: skip
    want = _reference_lbf(levels, params)
    assert np.array_equal(log_bayes_factors(levels, params), want)
    fields, total = match_weights(levels, params, 0.3)
    assert np.array_equal(fields, (want / np.log(2)).astype(np.float32))
    assert np.array_equal(total, fields.sum(axis=0, dtype=np.float64) + np.log2(0.3 / 0.7))
