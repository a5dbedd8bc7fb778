"""Shared values: an email, phone or handle held by identities of clearly different people.

A value is *shared* when at least `shared_min_holders` customers hold it and two of them are
clearly different people, or when `shared_min_customers` customers hold it whatever their names
(a switchboard or a team inbox). A value held by two customers only is usually the pair itself
(on a labelled sample 108 of 122 such suggestions were one person), so it is never shared: the
name comparisons weigh against a pair of strangers on it anyway.

"Clearly different" tolerates what one person's identities differ by: typos (Jaro-Winkler of
first names >= 0.8, "onna" vs "donna" 0.93), nicknames (canonical names equal), a partial name
("mary" / "maryann"), an initial, a first/last swap. Two holders whose names are compatible, or
one of whom has no name, are not evidence of two people.

A pair agreeing on a shared value gets the neutral `shared` level unless both identities are
named and their names are compatible: then the agreement stays `exact` (term-frequency
weighted), since the names already tie the pair to one of the value's people.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from rapidfuzz import distance, process

from matching.nicknames import canonical_names

if TYPE_CHECKING:
    from matching.frequency import Encoded, Frame

FIRST, LAST = "first_name_key", "last_name_key"
# Jaro-Winkler at or above this is one name with a typo (the comparisons' "far" cut-off, 0.8)
SAME_NAME_SIMILARITY = 0.8


def _canonical(values: Sequence[str | None]) -> list[str | None]:
    canon = canonical_names()
    return [None if v is None else canon.get(v, v) for v in values]


def _similar(a: list[str | None], b: list[str | None], min_contain: int) -> np.ndarray:
    """Per position: both present and one name (typo, nickname, prefix/containment, initial) of the other."""
    n = len(a)
    out = np.zeros(n, dtype=bool)
    idx = [i for i in range(n) if a[i] and b[i]]
    if not idx:
        return out
    aa, bb = [a[i] or "" for i in idx], [b[i] or "" for i in idx]
    sim = process.cpdist(aa, bb, scorer=distance.JaroWinkler.normalized_similarity, workers=-1)
    ca, cb = _canonical(list(aa)), _canonical(list(bb))
    for k, i in enumerate(idx):
        x, y = aa[k], bb[k]
        short = min(len(x), len(y))
        out[i] = (
            sim[k] >= SAME_NAME_SIMILARITY
            or ca[k] == cb[k]
            or (short == 1 and x[0] == y[0])
            or (short >= min_contain and (x in y or y in x))
        )
    return out


def compatible(
    fa: list[str | None], la: list[str | None], fb: list[str | None], lb: list[str | None]
) -> np.ndarray:
    """Per position: both sides named and the names could be one person's (typo, nickname, swap tolerant)."""
    n = len(fa)

    def ok(x: list[str | None], y: list[str | None], min_contain: int) -> np.ndarray:
        missing = np.array([x[i] is None or y[i] is None for i in range(n)], dtype=bool)
        return missing | _similar(x, y, min_contain)

    named = np.array(
        [
            (fa[i] is not None or la[i] is not None) and (fb[i] is not None or lb[i] is not None)
            for i in range(n)
        ],
        dtype=bool,
    )
    straight = ok(fa, fb, 3) & ok(la, lb, 4)
    swapped = ok(fa, lb, 3) & ok(la, fb, 3)
    return named & (straight | swapped)


def _names(frame: Frame, rows: np.ndarray) -> tuple[list[str | None], list[str | None]]:
    df = frame.df
    pick = pl.Series(rows.astype(np.int64))
    first = (
        df.get_column(FIRST).cast(pl.String).gather(pick).to_list()
        if FIRST in df.columns
        else [None] * len(rows)
    )
    last = (
        df.get_column(LAST).cast(pl.String).gather(pick).to_list()
        if LAST in df.columns
        else [None] * len(rows)
    )
    return [v or None for v in first], [v or None for v in last]


def pair_compatible(frame: Frame, li: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per pair of frame rows: both named and the names compatible."""
    if len(li) == 0:
        return np.zeros(0, dtype=bool)
    fa, la = _names(frame, li)
    fb, lb = _names(frame, r)
    return compatible(fa, la, fb, lb)


def shared_codes(frame: Frame, enc: Encoded) -> np.ndarray:
    """Per code of `enc`: the value is shared (see the module docstring)."""
    out = enc.customers >= frame.shared_min_customers
    candidates = np.flatnonzero((enc.customers >= frame.shared_min_holders) & ~out)
    if len(candidates) == 0:
        return out
    rows = np.flatnonzero(np.isin(enc.codes, candidates))
    # one row per (value, customer, name): a customer's identities with one name count once
    fa, la = _names(frame, rows)
    holders = pl.DataFrame(
        {"v": enc.codes[rows], "c": frame.customer[rows], "f": fa, "l": la, "row": rows},
        schema={"v": pl.Int64, "c": pl.Int64, "f": pl.String, "l": pl.String, "row": pl.Int64},
    ).filter(pl.col("f").is_not_null() | pl.col("l").is_not_null())
    holders = holders.unique(["v", "c", "f", "l"], keep="first", maintain_order=True)
    pairs = holders.join(holders, on="v", suffix="_b").filter(
        (pl.col("row") < pl.col("row_b")) & (pl.col("c") != pl.col("c_b"))
    )
    if pairs.height == 0:
        return out
    same = compatible(
        pairs.get_column("f").to_list(), pairs.get_column("l").to_list(),
        pairs.get_column("f_b").to_list(), pairs.get_column("l_b").to_list(),
    )  # fmt: skip
    different = pairs.get_column("v").to_numpy()[~same]
    out[np.unique(different)] = True
    return out
