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


def _vocab_parts(vocab: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per vocabulary entry: length, first-character code and canonical-name code."""
    canon = canonical_names()
    s = pl.Series(vocab, dtype=pl.String)
    length = s.str.len_chars().to_numpy().astype(np.int64)
    first = s.str.slice(0, 1).rank("dense").to_numpy().astype(np.int64)
    canonical = pl.Series([canon.get(v, v) for v in vocab], dtype=pl.String)
    return length, first, canonical.rank("dense").to_numpy().astype(np.int64)


def _similar_codes(
    vocab: list[str], x: np.ndarray, y: np.ndarray, min_contain: list[int]
) -> list[np.ndarray]:
    """Per (x, y) code pair and each `min_contain`: both present and one name (typo, nickname,
    prefix/containment, initial) of the other. Every test runs once per distinct value pair."""
    both = (x >= 0) & (y >= 0)
    outs = [np.zeros(len(x), dtype=bool) for _ in min_contain]
    if not both.any():
        return outs
    size = np.int64(len(vocab))
    key, inv = np.unique(x[both].astype(np.int64) * size + y[both], return_inverse=True)
    a, b = key // size, key % size
    va, vb = [vocab[i] for i in a.tolist()], [vocab[i] for i in b.tolist()]
    sim = process.cpdist(va, vb, scorer=distance.JaroWinkler.normalized_similarity, workers=-1)
    # the per-name parts of the names these pairs use only
    used, local = np.unique(np.concatenate([a, b]), return_inverse=True)
    length, first, canonical = _vocab_parts([vocab[i] for i in used.tolist()])
    a, b = local[: len(a)], local[len(a) :]
    short = np.minimum(length[a], length[b])
    pairs = pl.DataFrame({"a": va, "b": vb}, schema={"a": pl.String, "b": pl.String})
    contains = pairs.select(
        pl.col("b").str.contains(pl.col("a"), literal=True)
        | pl.col("a").str.contains(pl.col("b"), literal=True)
    )[:, 0].to_numpy()
    base = (
        (sim >= SAME_NAME_SIMILARITY)
        | (canonical[a] == canonical[b])
        | ((short == 1) & (first[a] == first[b]))
    )
    base &= short > 0  # an empty name is present but like no name
    inv = inv.ravel()
    for out, k in zip(outs, min_contain, strict=True):
        out[both] = (base | ((short >= k) & contains))[inv]
    return outs


def compatible_codes(
    vocab: list[str], fa: np.ndarray, la: np.ndarray, fb: np.ndarray, lb: np.ndarray
) -> np.ndarray:
    """`compatible` on codes into `vocab` (-1 = no name): one test per distinct pair of names."""
    named = ((fa >= 0) | (la >= 0)) & ((fb >= 0) | (lb >= 0))
    n = len(fa)
    # the four name pairs of the straight and swapped readings, scored in one pass
    x = np.concatenate([fa, la, fa, la])
    y = np.concatenate([fb, lb, lb, fb])
    sim3, sim4 = _similar_codes(vocab, x, y, [3, 4])
    ok = (x < 0) | (y < 0) | np.concatenate([sim3[:n], sim4[n : 2 * n], sim3[2 * n :]])
    straight = ok[:n] & ok[n : 2 * n]
    swapped = ok[2 * n : 3 * n] & ok[3 * n :]
    return named & (straight | swapped)


def _encode(values: pl.Series) -> tuple[list[str], np.ndarray]:
    """Dense codes (-1 = null) and the sorted vocabulary of a string series."""
    from matching.frequency import dense_codes

    codes, vocab = dense_codes(values)
    return vocab.to_list(), codes


def compatible(
    fa: list[str | None], la: list[str | None], fb: list[str | None], lb: list[str | None]
) -> np.ndarray:
    """Per position: both sides named and the names could be one person's (typo, nickname, swap tolerant)."""
    n = len(fa)
    if n == 0:
        return np.zeros(0, dtype=bool)
    stacked = pl.Series([*fa, *la, *fb, *lb], dtype=pl.String)
    vocab, codes = _encode(stacked)
    return compatible_codes(vocab, codes[:n], codes[n : 2 * n], codes[2 * n : 3 * n], codes[3 * n :])


def _name_columns(frame: Frame) -> list[pl.Series]:
    df = frame.df
    return [
        df.get_column(c).cast(pl.String).replace("", None)
        if c in df.columns
        else pl.Series([None] * df.height, dtype=pl.String)
        for c in (FIRST, LAST)
    ]


def _names(frame: Frame, rows: np.ndarray) -> tuple[list[str | None], list[str | None]]:
    pick = pl.Series(rows.astype(np.int64))
    first, last = (s.gather(pick).to_list() for s in _name_columns(frame))
    return first, last


def _name_codes(frame: Frame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """First and last name codes per frame row into one vocabulary (cached on the frame, so a
    partition's subset gets them cut to its rows)."""
    from matching.frequency import Encoded

    key = ("compatible_names",)
    hit = frame.cache.get(key)
    if not isinstance(hit, dict):
        first, last = _name_columns(frame)
        words, codes = _encode(pl.concat([first, last]))
        vocab = np.array(words or [""], dtype=object)
        none = np.zeros(len(vocab))
        hit = {
            side: Encoded(codes[i * frame.n : (i + 1) * frame.n].astype(np.int32), vocab, none, 0.0)
            for i, side in enumerate(("first", "last"))
        }
        frame.cache[key] = hit
    return hit["first"].vocab.tolist(), hit["first"].codes, hit["last"].codes


def pair_compatible(frame: Frame, li: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per pair of frame rows: both named and the names compatible."""
    if len(li) == 0:
        return np.zeros(0, dtype=bool)
    vocab, first, last = _name_codes(frame)
    return compatible_codes(vocab, first[li], last[li], first[r], last[r])


def same_surname_other_person(frame: Frame, li: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per pair of frame rows: one surname, two first names that are clearly two people's (a household).

    The name codes are read even for no pairs: a partition's frame gets them from the probe.
    """
    vocab, first, last = _name_codes(frame)
    if len(li) == 0:
        return np.zeros(0, dtype=bool)
    fa, fb, la, lb = first[li], first[r], last[li], last[r]
    household = (la >= 0) & (la == lb) & (fa >= 0) & (fb >= 0) & (fa != fb)
    where = np.flatnonzero(household)
    household[where] = ~compatible_codes(vocab, fa[where], la[where], fb[where], lb[where])
    return household


def first_names_differ(frame: Frame, li: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per pair of frame rows: two first names, clearly two people's (no typo, nickname, initial apart)."""
    vocab, first, _last = _name_codes(frame)
    fa, fb = first[li], first[r]
    both = (fa >= 0) & (fb >= 0) & (fa != fb)
    out = np.zeros(len(li), dtype=bool)
    where = np.flatnonzero(both)
    if len(where):
        out[where] = ~_similar_codes(vocab, fa[where], fb[where], [3])[0]
    return out


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
