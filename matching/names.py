"""First- and last-name comparisons: exact (term-frequency adjusted), swapped, nickname, initial, fuzzy."""

from __future__ import annotations

from functools import cache

import numpy as np
import polars as pl

from matching.comparisons import (
    MISSING,
    Levels,
    assign,
    finish,
    fuzzy_names,
    on_distinct,
    similarity,
)
from matching.config import ComparisonSpec
from matching.frequency import Encoded, Frame, sorted_distinct
from matching.nicknames import nickname_pairs


@cache
def _nick_arrays() -> tuple[np.ndarray, np.ndarray]:
    pairs = sorted(nickname_pairs())
    return np.array([a for a, _ in pairs], dtype=object), np.array([b for _, b in pairs], dtype=object)


def nickname_keys(vocab: np.ndarray) -> np.ndarray:
    """Sorted int64 keys lo * len(vocab) + hi of the nickname pairs present in the (sorted) vocabulary."""
    a, b = _nick_arrays()
    ia, ib = np.searchsorted(vocab, a), np.searchsorted(vocab, b)
    ok = (ia < len(vocab)) & (ib < len(vocab))
    ok[ok] &= (vocab[ia[ok]] == a[ok]) & (vocab[ib[ok]] == b[ok])
    lo, hi = np.minimum(ia[ok], ib[ok]), np.maximum(ia[ok], ib[ok])
    return sorted_distinct(lo.astype(np.int64) * len(vocab) + hi)


def _is_nickname(cl: np.ndarray, cr: np.ndarray, size: int, keys: np.ndarray) -> np.ndarray:
    """Per pair: its code pair is among the sorted nickname keys (a binary search, not np.isin,
    which sorts the million pair keys with the few thousand nickname keys)."""
    pair = np.minimum(cl, cr).astype(np.int64) * size + np.maximum(cl, cr)
    if not len(keys):
        return np.zeros(len(pair), dtype=bool)
    at = np.minimum(np.searchsorted(keys, pair), len(keys) - 1)
    return keys[at] == pair


def _vocab_stats(enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
    s = pl.Series(enc.vocab.tolist(), dtype=pl.String)
    return s.str.len_chars().to_numpy(), s.str.slice(0, 1).rank("dense").to_numpy()


def _contains(enc: Encoded, cl: np.ndarray, cr: np.ndarray, mask: np.ndarray, min_len: int) -> np.ndarray:
    """One name starts with (first names) or contains (surnames) the other, the shorter >= min_len."""

    def fn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        df = pl.DataFrame(
            {"a": enc.vocab[a].tolist(), "b": enc.vocab[b].tolist()},
            schema=[("a", pl.String), ("b", pl.String)],
        )
        short = pl.min_horizontal(pl.col("a").str.len_chars(), pl.col("b").str.len_chars())
        hit = pl.col("a").str.contains(pl.col("b"), literal=True) | pl.col("b").str.contains(
            pl.col("a"), literal=True
        )
        return df.select((hit & (short >= min_len)).alias("x"))[:, 0].to_numpy()

    return on_distinct(cl, cr, mask, fn, len(enc.vocab)) > 0


def _codes(spec: ComparisonSpec, frame: Frame) -> tuple[Encoded, Encoded]:
    assert spec.column is not None
    partner = spec.columns[0] if spec.columns else None
    if partner is None:
        enc = frame.col(spec.column)
        return enc, Encoded(np.full(frame.n, -1, dtype=np.int32), enc.vocab, enc.customers, enc.total)
    joint = frame.joint(sorted([spec.column, partner]))
    return joint[spec.column], joint[partner]


def _name_agreement(
    spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray
) -> tuple[Encoded, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Codes of both sides and the missing / exact / swapped (first and last name crossed) masks."""
    enc, other = _codes(spec, frame)
    cl, cr = enc.codes[li], enc.codes[r]
    missing = (cl < 0) | (cr < 0)
    exact = ~missing & (cl == cr)
    ol, orr = other.codes[li], other.codes[r]
    swapped = ~missing & ~exact & (cl == orr) & (ol == cr) & (ol >= 0)
    return enc, cl, cr, missing, exact, swapped


def compare_first_name(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / swapped (first and last both swapped) / nickname / initial / close / far / different."""
    assert spec.thresholds is not None
    enc, cl, cr, missing, exact, swapped = _name_agreement(spec, frame, li, r)
    size = len(enc.vocab)
    rest = ~missing & ~exact & ~swapped
    nick = rest & _is_nickname(cl, cr, size, nickname_keys(enc.vocab))
    initial = _initial(enc, cl, cr, rest)
    fuzzy_mask = rest & ~nick & ~initial
    sim = similarity(enc, cl, cr, fuzzy_mask, "jaro_winkler")
    # "mary" vs "maryann": a first name that starts another is a partial name, scored as close
    partial = _contains(enc, cl, cr, fuzzy_mask & (sim < spec.thresholds[0]), 3)
    fuzzy = fuzzy_names(len(spec.thresholds))
    names = [MISSING, "exact", "swapped", "nickname", "initial", *fuzzy, "different"]
    rules = [
        (MISSING, missing),
        ("exact", exact),
        ("swapped", swapped),
        ("nickname", nick),
        ("initial", initial),
    ]
    rules += [
        (n, (sim >= t) | (partial if i == 0 else False))
        for i, (n, t) in enumerate(zip(fuzzy, spec.thresholds, strict=True))
    ]
    return finish(spec, enc, names, assign(len(li), names, rules), cl)


# How far the full-name ratio (below) moves a name's u away from its parts' product: u is
# p(first) p(last) (ratio / typical) ** RATIO_SHRINK. At 1 (the hard cap alone) a name commoner
# than typical gets u ~ holders / typical whatever its parts, so "john smith" held by 2 customers
# weighed as much as a name of rare parts held by 2; yet among pairs agreeing on the full name
# and nothing else the share that are one person falls with the expected number of chance holders
# p(first) p(last) n at any fixed holder count (gen1-100k, 2 holders: 98% true at 1/256 expected,
# 70% at 1/8, 25% at 1; gen2-100k: 99%, 84%, 45%). Shrinking the ratio keeps both signals.
# Chosen on the benchmarks, not fitted (bench/quality_bench.py, with the name-in-handle u of
# matching/crossfield.py: gen2-100k cluster precision 0.913 / 0.895 / 0.832 and F1 0.593 / 0.614 /
# 0.623 at 0.5 / 0.7 / 1; gen1-100k F1 0.398 / 0.398 / 0.400).
RATIO_SHRINK = 0.7


def _full_name_stats(frame: Frame, first_col: str, last_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the full-name ratio (see `_full_name_ratio`) and the customers holding the full name.

    Both nan without both names; cached as two per-row arrays (a partition's frame cuts them).
    """
    key, key_n = (
        ("freq", f"full_ratio:{first_col}:{last_col}"),
        ("freq", f"full_holders:{first_col}:{last_col}"),
    )
    hit, hit_n = frame.cache.get(key), frame.cache.get(key_n)
    if isinstance(hit, np.ndarray) and isinstance(hit_n, np.ndarray):
        return hit, hit_n
    frame._miss(key)
    names = frame.df.select(
        pl.col(first_col).cast(pl.String).str.strip_chars().replace("", None).alias("f"),
        pl.col(last_col).cast(pl.String).str.strip_chars().replace("", None).alias("l"),
    ).with_columns(c=pl.Series(frame.customer))
    held = names.drop_nulls().unique()
    n = max(held.height, 1)
    per = held.with_columns(
        nf=pl.col("c").n_unique().over("f"),
        nl=pl.col("c").n_unique().over("l"),
        nfl=pl.col("c").n_unique().over("f", "l"),
    ).unique(["f", "l"])
    per = per.with_columns(r=(pl.col("nfl") * n) / (pl.col("nf") * pl.col("nl")))
    shared = per.filter(pl.col("nfl") >= 2).get_column("r")
    typical = float(shared.median()) if shared.len() else 1.0  # type: ignore[arg-type]
    ratio = names.join(per.select("f", "l", "r", "nfl"), on=["f", "l"], how="left", maintain_order="left")
    # one-sided: a combination commoner than typical is most often one person counted on several
    # channels (a name held only by the pair has the highest ratio of all), not a popular name
    scaled = (ratio.get_column("r") / max(typical, 1e-300)).clip(upper_bound=1.0) ** RATIO_SHRINK
    if frame.namesake_holders is not None:
        # precision first ([match] namesake_holders): the holders beyond the first k may each be
        # another person, so u >= (holders - k) / n, as a multiplier of p(first) p(last): r (h - k) / h
        h = ratio.get_column("nfl").cast(pl.Float64)  # unsigned: h - k would wrap below k
        floor = ratio.get_column("r") * (h - frame.namesake_holders).clip(lower_bound=0) / h
        scaled = pl.select(pl.max_horizontal(scaled, floor)).to_series()
    out = scaled.fill_null(np.nan).to_numpy().astype(np.float64)
    holders = ratio.get_column("nfl").cast(pl.Float64).fill_null(np.nan).to_numpy()
    frame.cache[key], frame.cache[key_n] = out, holders
    return out, holders


def full_name_holders(frame: Frame, first_col: str, last_col: str) -> np.ndarray:
    """Per row: the customers holding the row's full name (nan without both names)."""
    return _full_name_stats(frame, first_col, last_col)[1]


def _full_name_ratio(frame: Frame, first_col: str, last_col: str) -> np.ndarray:
    """Per row: p(full name) / (p(first) p(last)), over the frame's typical ratio, shrunk (nan without both names).

    Frequencies count distinct customers, as term frequencies do. The typical ratio (median over
    the full names held by >= 2 customers) is > 1 by construction: a pair holding a name holds it
    twice, and names are not independent (families, regions). Only the deviation from it says
    that a full name is rarer or commoner than its parts predict (shrunk: RATIO_SHRINK).
    """
    return _full_name_stats(frame, first_col, last_col)[0]


def full_name_u(frame: Frame, first_col: str, last_col: str) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the u of another identity agreeing on this row's whole name, and the name's holders.

    p(first) p(last) times the full-name ratio: the u that first- and last-name agreement give
    together (`full_name_tf`); nan without both names.
    """
    joint = frame.joint(sorted([first_col, last_col]))
    parts = []
    for enc in (joint[first_col], joint[last_col]):
        ok = enc.codes >= 0
        tf = np.full(frame.n, np.nan)
        tf[ok] = enc.tf(enc.codes[ok])
        parts.append(tf)
    ratio, holders = _full_name_stats(frame, first_col, last_col)
    return parts[0] * parts[1] * ratio, holders


def full_name_tf(out: Levels, spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """Where first and last name both agree exactly, the surname's u is scaled down by how much rarer
    the whole name is than its parts predict (`_full_name_ratio`).

    "john jones" held by 2 customers then outweighs "john smith" held by 8 even when john, smith
    and jones are equally common: the weight comes from the full name's frequency. A typical or
    commoner-than-typical name keeps the weight of its parts. RLdata10k F1 at 0.8: 0.896 -> 0.906;
    generator seed 7, 10k: 0.191 -> 0.210; Febrl3/4 unchanged.
    """
    if out.tf is None or out.tf_level is None or not spec.columns or spec.column is None:
        return out
    first_col, last_col = spec.columns[0], spec.column
    ratio = _full_name_ratio(frame, first_col, last_col)
    first = frame.joint(sorted([first_col, last_col]))[first_col]
    # read on the pairs agreeing exactly on the surname only
    at = np.flatnonzero(out.levels == out.tf_level)
    fl, fr = first.codes[li[at]], first.codes[r[at]]
    both = at[(fl >= 0) & (fl == fr) & ~np.isnan(ratio[li[at]])]
    out.tf[both] = np.clip(out.tf[both] * ratio[li[both]], 1e-12, 1.0)
    return out


def _initial(enc: Encoded, cl: np.ndarray, cr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Under `mask`: one side is a single letter that is the other side's first letter ("j" vs "jones")."""
    length, first_char = _vocab_stats(enc)
    sl, sr = np.maximum(cl, 0), np.maximum(cr, 0)
    return mask & ((length[sl] == 1) | (length[sr] == 1)) & (first_char[sl] == first_char[sr])


def compare_last_name(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / swapped_surname (weight 0: the swap is scored once, on first_name) / close / far /
    initial / different."""
    assert spec.thresholds is not None
    enc, cl, cr, missing, exact, swapped = _name_agreement(spec, frame, li, r)
    rest = ~missing & ~exact & ~swapped
    sim = similarity(enc, cl, cr, rest, "jaro_winkler")
    # double-barrelled or partial surnames ("smithjones" vs "smith") count as close
    partial = _contains(enc, cl, cr, rest & (sim < spec.thresholds[0]), 4)
    fuzzy = fuzzy_names(len(spec.thresholds))
    # "J." against "Jones" is a surname written short, not a different surname (Jaro-Winkler 0.76
    # put it in "different", whose weight is negative): the weakest agreement, below the fuzzy levels
    names = [MISSING, "exact", "swapped_surname", *fuzzy, "initial", "different"]
    rules = [(MISSING, missing), ("exact", exact), ("swapped_surname", swapped)]
    rules += [
        (n, (sim >= t) | (partial if i == 0 else False))
        for i, (n, t) in enumerate(zip(fuzzy, spec.thresholds, strict=True))
    ]
    rules.append(("initial", _initial(enc, cl, cr, rest)))
    out = finish(spec, enc, names, assign(len(li), names, rules), cl)
    return full_name_tf(out, spec, frame, li, r) if spec.term_frequency else out
