"""Cross-field evidence: a person's name against the other identity's email local part or handle.

Many identities carry only one kind of value (a Twitter handle, an SMS number, an email), so
`jordan.berry7@...` and `@jberry` are compared with "Jordan Berry". These comparisons only
apply where the direct ones cannot (one side has no name; or neither email nor handle is on
both sides): when both sides have names, a handle containing a name adds nothing the name
comparison has not already counted, and counting it again would make common names chain.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from matching.comparisons import NA, Levels, assign, cpdist, finish
from matching.config import ComparisonSpec
from matching.frequency import Frame

_NAME_LEVELS = [NA, "full", "initial_surname", "surname", "first_name", "none"]


def _letters(s: pl.Expr) -> pl.Expr:
    return s.str.to_lowercase().str.replace_all(r"[^a-z]", "").replace("", None)


def _name_vs_handles(df: pl.DataFrame) -> np.ndarray:
    """Level index per row of (first, last, h1, h2): how much of the name the handles contain."""
    f, la = pl.col("first"), pl.col("last")
    found = []
    for h in (pl.col("h1"), pl.col("h2")):
        def has(x: pl.Expr, h: pl.Expr = h) -> pl.Expr:
            return h.str.contains(x, literal=True).fill_null(False)

        found.append(
            pl.when(has(f) & has(la) & (f.str.len_chars() >= 2) & (la.str.len_chars() >= 2))
            .then(1)
            .when((has(f.str.slice(0, 1) + la) | has(la + f.str.slice(0, 1))) & (la.str.len_chars() >= 3))
            .then(2)
            .when(has(la) & (la.str.len_chars() >= 4))
            .then(3)
            .when(has(f) & (f.str.len_chars() >= 4))
            .then(4)
            .otherwise(5)
        )
    return df.select(pl.min_horizontal(found).alias("x"))[:, 0].to_numpy().astype(np.int8)


def compare_name_handle(spec: ComparisonSpec, frame: Frame, l: np.ndarray, r: np.ndarray) -> Levels:
    """full / initial_surname / surname / first_name / none, when only one side has a name."""
    first_c, last_c, email_c, screen_c = spec.columns
    df = frame.df
    has_name = (df.get_column(first_c).is_not_null() | df.get_column(last_c).is_not_null()).to_numpy()
    has_handle = (df.get_column(email_c).is_not_null() | df.get_column(screen_c).is_not_null()).to_numpy()
    levels = np.zeros(len(l), dtype=np.int8)
    for name_side, handle_side in ((l, r), (r, l)):
        gate = has_name[name_side] & ~has_name[handle_side] & has_handle[handle_side]
        if not gate.any():
            continue
        nrow, hrow = pl.Series(name_side[gate]), pl.Series(handle_side[gate])
        sub = pl.DataFrame(
            {
                "first": df.get_column(first_c).gather(nrow),
                "last": df.get_column(last_c).gather(nrow),
                "h1": df.get_column(email_c).gather(hrow).str.extract(r"^([^@]+)@", 1),
                "h2": df.get_column(screen_c).gather(hrow),
            }
        ).select(
            _letters(pl.col("first")).alias("first"),
            _letters(pl.col("last")).alias("last"),
            _letters(pl.col("h1")).alias("h1"),
            _letters(pl.col("h2")).alias("h2"),
        )
        levels[gate] = _name_vs_handles(sub)
    return finish(spec, None, list(_NAME_LEVELS), levels)


def _alnum(s: pl.Series) -> pl.Series:
    return s.str.to_lowercase().str.replace_all(r"[^a-z0-9]", "").replace("", None)


def compare_handle_cross(spec: ComparisonSpec, frame: Frame, l: np.ndarray, r: np.ndarray) -> Levels:
    """exact / close / different: one side's email local part against the other's screen name."""
    assert spec.thresholds is not None
    email_c, screen_c = spec.columns
    df = frame.df
    has_e = df.get_column(email_c).is_not_null().to_numpy()
    has_s = df.get_column(screen_c).is_not_null().to_numpy()
    names = [NA, "exact", "close", "different"]
    levels = np.zeros(len(l), dtype=np.int8)
    direct = (has_e[l] & has_e[r]) | (has_s[l] & has_s[r])
    for e_side, s_side in ((l, r), (r, l)):
        gate = ~direct & has_e[e_side] & has_s[s_side] & (levels == 0)
        if not gate.any():
            continue
        local = _alnum(df.get_column(email_c).gather(pl.Series(e_side[gate])).str.extract(r"^([^@]+)@", 1))
        screen = _alnum(df.get_column(screen_c).gather(pl.Series(s_side[gate])))
        a, b = local.fill_null("").to_list(), screen.fill_null("").to_list()
        sim = cpdist(a, b, "jaro_winkler")
        letters_eq = (local.str.replace_all(r"\d", "") == screen.str.replace_all(r"\d", "")).fill_null(False)
        exact = (local == screen).fill_null(False).to_numpy()
        close = letters_eq.to_numpy() | (sim >= spec.thresholds[0])
        found = assign(int(gate.sum()), names, [("exact", exact), ("close", close)])
        found[(local.is_null() | screen.is_null()).to_numpy()] = 0  # nothing comparable: n/a
        levels[gate] = found
    return finish(spec, None, names, levels)
