"""Email, phone and postcode comparisons."""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz import distance, process

from matching.comparisons import (
    MISSING,
    Levels,
    assign,
    exact_part,
    finish,
    on_distinct,
    shared_rule,
    similarity,
)
from matching.config import ComparisonSpec
from matching.frequency import Frame


def compare_email(spec: ComparisonSpec, frame: Frame, l: np.ndarray, r: np.ndarray) -> Levels:
    """exact (provider-folded key) / shared / same_local (other domain) / close (typo) / different."""
    assert spec.column is not None and spec.thresholds is not None
    key = frame.col(spec.column, shared=spec.shared_values)
    norm_col = spec.columns[0] if spec.columns else spec.column
    norm = frame.col(norm_col)
    cl, _, _, exact, names = exact_part(spec, key, l, r)
    nl, nr = norm.codes[l], norm.codes[r]
    missing = ((cl < 0) & (nl < 0)) | ((key.codes[r] < 0) & (nr < 0))
    exact &= ~missing
    local = frame.derived(
        f"{norm_col}:local", lambda df: df.get_column(norm_col).str.extract(r"^([^@]+)@", 1)
    )
    ll, lr = local.codes[l], local.codes[r]
    rest = ~missing & ~exact
    same_local = rest & (ll >= 0) & (ll == lr)
    sim = similarity(norm, nl, nr, rest & ~same_local & (nl >= 0) & (nr >= 0), "levenshtein")
    names = [*names, "same_local", "close", "different"]
    rules = [(MISSING, missing), *shared_rule(key, cl, exact), ("exact", exact)]
    rules += [("same_local", same_local), ("close", sim >= spec.thresholds[0])]
    return finish(spec, key, names, assign(len(l), names, rules), cl)


def compare_phone(spec: ComparisonSpec, frame: Frame, l: np.ndarray, r: np.ndarray) -> Levels:
    """exact / shared / national (same last 9 digits: other country code or trunk prefix) / close / different.

    9 digits is the national significant number length of most European mobiles; close is one
    substituted or transposed digit (optimal string alignment distance 1) at equal length.
    """
    assert spec.column is not None
    col = spec.column
    enc = frame.col(col, shared=spec.shared_values)
    cl, cr, missing, exact, names = exact_part(spec, enc, l, r)
    digits = frame.derived(f"{col}:digits", lambda df: df.get_column(col).cast(pl.String).str.replace_all(r"\D", ""))
    tail = frame.derived(
        f"{col}:last9", lambda df: df.get_column(col).cast(pl.String).str.replace_all(r"\D", "").str.slice(-9)
    )
    rest = ~missing & ~exact
    national = rest & (tail.codes[l] == tail.codes[r]) & (tail.codes[l] >= 0)
    dl, dr = digits.codes[l], digits.codes[r]
    vocab = digits.vocab

    def osa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        va, vb = vocab[a].tolist(), vocab[b].tolist()
        d = process.cpdist(va, vb, scorer=distance.OSA.distance, workers=-1, dtype=np.int32)
        same_len = np.fromiter((len(x) == len(y) for x, y in zip(va, vb, strict=True)), bool, len(va))
        return (d <= 1) & same_len

    close = on_distinct(dl, dr, rest & ~national & (dl >= 0) & (dr >= 0), osa, len(vocab)) > 0
    names = [*names, "national", "close", "different"]
    rules = [(MISSING, missing), *shared_rule(enc, cl, exact), ("exact", exact)]
    rules += [("national", national), ("close", close)]
    return finish(spec, enc, names, assign(len(l), names, rules), cl)


def compare_postcode(spec: ComparisonSpec, frame: Frame, l: np.ndarray, r: np.ndarray) -> Levels:
    """exact / close (one edit) / area (same outward code: all but the last 3 characters) / different."""
    assert spec.column is not None
    col = spec.column
    enc = frame.col(col, shared=spec.shared_values)
    cl, cr, missing, exact, names = exact_part(spec, enc, l, r)
    area = frame.derived(
        f"{col}:area",
        lambda df: (
            df.select(
                pl.when(pl.col(col).str.len_chars() >= 5)
                .then(pl.col(col).str.slice(0, pl.col(col).str.len_chars() - 3))
                .otherwise(pl.col(col).str.slice(0, 3))
            ).to_series()
        ),
    )
    rest = ~missing & ~exact
    sim = similarity(enc, cl, cr, rest, "levenshtein")
    lengths = pl.Series(enc.vocab.tolist(), dtype=pl.String).str.len_chars().to_numpy()
    longest = np.maximum(lengths[np.maximum(cl, 0)], lengths[np.maximum(cr, 0)])
    one_edit = rest & (sim >= 1.0 - 1.0 / np.maximum(longest, 1) - 1e-6)
    same_area = rest & (area.codes[l] == area.codes[r]) & (area.codes[l] >= 0)
    names = [*names, "close", "area", "different"]
    rules = [(MISSING, missing), *shared_rule(enc, cl, exact), ("exact", exact)]
    rules += [("close", one_edit), ("area", same_area)]
    return finish(spec, enc, names, assign(len(l), names, rules), cl)
