"""Comparisons: each turns candidate pairs into one graded level per pair (numpy, column-wise).

Level 0 is always the neutral "missing" (or "n/a") level; the last is "different". Levels
run from strongest to weakest agreement; the first that applies wins. Fuzzy scorers run via
`rapidfuzz.process.cpdist(..., workers=-1)` once per distinct value pair. Default thresholds:
Jaro-Winkler 0.92 / 0.80 are the usual record-linkage cut-offs for a one-letter typo /
a related spelling in short names (Winkler 1990; Splink's name comparison uses 0.92/0.88/0.7);
0.88 normalized Levenshtein is ~one edit in an 8-16 character address or handle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from rapidfuzz import distance, fuzz, process

from matching.config import RAW_DATE_COLUMNS, ComparisonSpec
from matching.frequency import Encoded, Frame, distinct_inverse

MISSING = "missing"
SHARED = "shared"
NA = "n/a"
NAME_STEM = "name_stem"
HOUSEHOLD = "household"


@dataclass
class Levels:
    """One comparison's result for every pair, plus how to weigh it."""

    name: str
    level_names: list[str]
    neutral: list[bool]  # levels with weight 0 whatever m and u say
    levels: np.ndarray  # int8 per pair
    tf: np.ndarray | None = None  # per pair: term frequency of the agreed value (nan elsewhere)
    tf_level: int | None = None  # the level whose u is replaced by the term frequency
    shared_count: np.ndarray | None = None  # per pair: customers holding the shared value (0 elsewhere)
    u_exact: float | None = None  # P(two random customers agree exactly), from value frequencies
    # the levels whose term-frequency u the identifier's tf_scale applies to (None: all of them)
    scaled_levels: list[int] | None = None

    def level(self, name: str) -> int:
        """Index of a level by name."""
        return self.level_names.index(name)


def neutral_flags(names: Sequence[str]) -> list[bool]:
    """Levels that carry no evidence: missing / n/a, shared values (a household's too), a swapped surname."""
    return [n in (MISSING, NA, SHARED, NAME_STEM, HOUSEHOLD, "swapped_surname") for n in names]


def fuzzy_names(k: int) -> list[str]:
    """Level names for k similarity thresholds."""
    return ["close", "far"][:k] if k <= 2 else [f"close_{i + 1}" for i in range(k)]


SCORERS: dict[str, Callable[..., float]] = {
    "jaro_winkler": distance.JaroWinkler.normalized_similarity,
    "levenshtein": distance.Levenshtein.normalized_similarity,
    "indel": distance.Indel.normalized_similarity,
    "token_set": fuzz.token_set_ratio,  # 0-100, scaled below
}


def cpdist(a: list[str], b: list[str], scorer: str) -> np.ndarray:
    """Similarity in [0, 1] of a[i] with b[i] for every i (all cores)."""
    if not a:
        return np.zeros(0, dtype=np.float32)
    out = process.cpdist(a, b, scorer=SCORERS[scorer], workers=-1, dtype=np.float32)
    return out / 100.0 if scorer == "token_set" else out


def on_distinct(
    cl: np.ndarray,
    cr: np.ndarray,
    mask: np.ndarray,
    fn: Callable[[np.ndarray, np.ndarray], np.ndarray],
    size: int,
) -> np.ndarray:
    """fn(codes_a, codes_b) evaluated once per distinct code pair under `mask`, scattered back."""
    out = np.zeros(len(cl), dtype=np.float32)
    if not mask.any():
        return out
    a, b = cl[mask].astype(np.int64), cr[mask].astype(np.int64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)  # the scorers used here are symmetric
    if 2 * size < len(lo):  # few distinct values (names, cities): score each value pair once
        key, inv = distinct_inverse(lo * size + hi)
        out[mask] = np.asarray(fn(key // size, key % size), dtype=np.float32)[inv]
    else:
        out[mask] = np.asarray(fn(lo, hi), dtype=np.float32)
    return out


def similarity(enc: Encoded, cl: np.ndarray, cr: np.ndarray, mask: np.ndarray, scorer: str) -> np.ndarray:
    """Fuzzy similarity of the encoded values of each masked pair (0 elsewhere)."""
    vocab = enc.vocab

    def fn(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return cpdist(vocab[a].tolist(), vocab[b].tolist(), scorer)

    return on_distinct(cl, cr, mask, fn, len(vocab))


def assign(n: int, names: list[str], rules: list[tuple[str, np.ndarray]]) -> np.ndarray:
    """Level per pair: the first (strongest) matching rule wins; default is the last level."""
    levels = np.full(n, len(names) - 1, dtype=np.int8)
    for name, cond in reversed(rules):
        levels[cond] = names.index(name)
    return levels


def exact_part(
    spec: ComparisonSpec, enc: Encoded, li: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Codes, missing and exact masks, and the leading level names (missing, exact, [shared])."""
    cl, cr = enc.codes[li], enc.codes[r]
    missing = (cl < 0) | (cr < 0)
    exact = ~missing & (cl == cr)
    names = [MISSING, "exact"] + ([SHARED] if enc.shared is not None else [])
    return cl, cr, missing, exact, names


def finish(
    spec: ComparisonSpec,
    enc: Encoded | None,
    names: list[str],
    levels: np.ndarray,
    cl: np.ndarray | None = None,
) -> Levels:
    """Attach term frequencies and shared-value counts to the exact / shared levels."""
    out = Levels(spec.name, names, neutral_flags(names), levels)
    if enc is None or cl is None or "exact" not in names:
        return out
    if spec.term_frequency:
        out.u_exact = None if enc.partial else enc.u_exact()  # a focused frame never trains
        out.tf_level = names.index("exact")
        # an exact agreement read from raw text (an impossible date) has no code: its level's u
        hit = (levels == out.tf_level) & (cl >= 0)
        tf = np.full(len(levels), np.nan)
        tf[hit] = enc.tf(cl[hit])
        out.tf = tf
    if SHARED in names:
        hit = levels == names.index(SHARED)
        count = np.zeros(len(levels))
        count[hit] = enc.customers[cl[hit]]
        out.shared_count = count
    return out


def shared_rule(
    enc: Encoded, cl: np.ndarray, exact: np.ndarray, frame: Frame, li: np.ndarray, r: np.ndarray
) -> list[tuple[str, np.ndarray]]:
    """The shared level: exact agreement on a shared value, unless the pair's own names agree.

    A pair whose names are compatible (typo, nickname, swap tolerant) is one of the value's
    people, so its agreement stays exact (see matching/shared.py).
    """
    if enc.shared is None:
        return []
    from matching.shared import pair_compatible

    hit = exact & enc.shared[np.maximum(cl, 0)]
    # a value of many customers stays shared whatever the names (and 100k holders cost no name test)
    where = np.flatnonzero(hit & (enc.customers[np.maximum(cl, 0)] < frame.shared_min_customers))
    hit[where[pair_compatible(frame, li[where], r[where])]] = False
    return [(SHARED, hit)]


def compare_string(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / [shared] / one level per similarity threshold / different."""
    assert spec.column is not None and spec.thresholds is not None
    enc = frame.col(spec.column, shared=spec.shared_values)
    cl, cr, missing, exact, names = exact_part(spec, enc, li, r)
    fuzzy = fuzzy_names(len(spec.thresholds))
    handle_like = spec.shared_values and spec.kind == "string"
    names = [*names, *fuzzy, *([NAME_STEM] if handle_like else []), "different"]
    rules = [(MISSING, missing), *shared_rule(enc, cl, exact, frame, li, r), ("exact", exact)]
    if spec.kind == "string" and spec.thresholds:
        sim = similarity(enc, cl, cr, ~missing & ~exact, spec.scorer or "jaro_winkler")
        if handle_like:  # two numbers on one stem: neutral, the names decide (matching/contact.py)
            from matching.contact import other_number  # here: contact imports this module

            col = spec.column
            numbered = sim >= min(spec.thresholds)  # tested on the near pairs only
            at = np.flatnonzero(numbered)
            numbered[at] = other_number(frame, col, lambda df: df.get_column(col), li[at], r[at])
            rules.append((NAME_STEM, numbered))
        rules += [(n, sim >= t) for n, t in zip(fuzzy, spec.thresholds, strict=True)]
    out = finish(spec, enc, names, assign(len(li), names, rules), cl)
    if handle_like:  # handle-like values: weigh near matches by stem frequency
        from matching.contact import stem_tf

        col = spec.column
        # the same letters other_number derives for the handle (one memo: Frame.per_row)
        make = frame.per_row(
            f"{col}:letters",
            lambda df: df.get_column(col).cast(pl.String).str.to_lowercase().str.replace_all(r"[^a-z]", ""),
        )
        out = stem_tf(out, frame, li, r, f"{col}:letters", make, tuple(fuzzy), handle=True)
        # the identifier scale (the share of strangers among pairs holding one handle) is measured
        # on exact agreement; a near match is not the handle typed twice as often as an email
        # address is, namesakes' handles differ by a separator or a letter ("iain_brown" /
        # "iainbrown"). Scaled too, close weighed as much as exact (20.4 / 20.5 bits) at a true
        # share of 0.73 (gen2-100k; gen1-100k: 0.64 at 16.4 bits).
        out.scaled_levels = None if out.tf_level is None else [out.tf_level]
    return out


def compare_numeric(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / within each absolute-difference threshold / different."""
    assert spec.column is not None and spec.thresholds is not None
    values = frame.df.get_column(spec.column).cast(pl.Float64).to_numpy()
    a, b = values[li], values[r]
    missing = np.isnan(a) | np.isnan(b)
    diff = np.where(missing, np.inf, np.abs(a - b))
    fuzzy = fuzzy_names(len(spec.thresholds))
    names = [MISSING, "exact", *fuzzy, "different"]
    rules = [(MISSING, missing), ("exact", diff == 0)]
    rules += [(n, diff <= t) for n, t in zip(fuzzy, spec.thresholds, strict=True)]
    return finish(spec, None, names, assign(len(li), names, rules))


# year, month and day of a date written year first (1967-13-10, 19671310), read where the parser
# refused it: an impossible date (month 13, 30 February) is a typo and still says which person
LOOSE_DATE = r"^\s*(\d{4})[-/.]?(\d{1,2})[-/.]?(\d{1,2})\s*$"


def date_parts(frame: Frame, column: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day, day number) per row, -9999 where unknown; impossible dates' parts read from
    their raw text (they have no day number)."""
    d = frame.df.get_column(column).cast(pl.Date)
    days = d.cast(pl.Int32).fill_null(-9999).to_numpy().astype(np.int64)
    y, m, dd = (p.cast(pl.Int64) for p in (d.dt.year(), d.dt.month(), d.dt.day()))
    raw = RAW_DATE_COLUMNS.get(column)
    if raw is not None and raw in frame.df.columns:
        loose = frame.df.get_column(raw).cast(pl.String).str.extract_groups(LOOSE_DATE)
        parts = [loose.struct.field(str(i)).cast(pl.Int64, strict=False) for i in (1, 2, 3)]
        known = d.is_not_null()
        y, m, dd = (a.zip_with(known, b) for a, b in zip((y, m, dd), parts, strict=True))
    year, month, day = (p.fill_null(-9999).to_numpy().astype(np.int64) for p in (y, m, dd))
    return year, month, day, days


def packed_digits(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The last 4 digits of the year and 2 of month and day, one per 4 bits of a uint32."""
    out = np.zeros(len(year), dtype=np.uint32)
    shift = 0
    for values, width in ((year, 4), (month, 2), (day, 2)):
        for k in range(width):
            out |= ((values // 10**k) % 10).astype(np.uint32) << np.uint32(shift)
            shift += 4
    return out


def packed_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Digit positions at which two packed_digits values differ (nonzero 4-bit groups of a ^ b)."""
    x = a ^ b
    nibble = (x | (x >> np.uint32(1)) | (x >> np.uint32(2)) | (x >> np.uint32(3))) & np.uint32(0x11111111)
    return np.bitwise_count(nibble)


DATE_PARTS = ("year", "month", "day", "days", "digits")


def date_table(frame: Frame, column: str) -> list[np.ndarray]:
    """Per row, int32: year, month, day, day number (date_parts) and packed digits (their uint32
    bits); cached on the frame (a partition's subset gets its rows), so the raw text is parsed once
    a run. One contiguous array per part: a gather of (n, 5) rows leaves strided columns that every
    test then reads at twice the cost; int32 moves half the bytes of int64."""
    keys = [("date_parts", column, part) for part in DATE_PARTS]
    hits = [frame.cache.get(key) for key in keys]
    if all(isinstance(hit, np.ndarray) for hit in hits):
        return [hit for hit in hits if isinstance(hit, np.ndarray)]
    frame._miss(keys[0])
    year, month, day, days = date_parts(frame, column)
    packed = packed_digits(year, month, day).view(np.int32)
    out = [year.astype(np.int32), month.astype(np.int32), day.astype(np.int32), days.astype(np.int32), packed]
    for key, part in zip(keys, out, strict=True):
        frame.cache[key] = part
    return out


def compare_date(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / one_digit (one digit wrong, or day and month swapped) / typo (one of year, month, day
    differs) / within days / different.

    A single keying error is far stronger evidence than two agreeing parts: among RLdata10k's
    candidate pairs with one first name whose dates differ in one part, 334 of 388 true pairs
    have one wrong digit, against 34 of 119 strangers.
    """
    assert spec.column is not None and spec.thresholds is not None
    enc = frame.col(spec.column, shared=spec.shared_values)
    cl, _cr, missing, exact, names = exact_part(spec, enc, li, r)
    table = date_table(frame, spec.column)
    (yl, ml, dl, days_l, pl_), (yr, mr, dr, days_r, pr) = [p[li] for p in table], [p[r] for p in table]
    known = (yl >= 0) & (yr >= 0)
    missing = ~known
    same_y, same_m, same_d = yl == yr, ml == mr, dl == dr
    exact = exact | (known & same_y & same_m & same_d)
    same = same_y.astype(int) + same_m + same_d
    swapped = same_y & (ml == dr) & (dl == mr)
    wrong = packed_errors(pl_.view(np.uint32), pr.view(np.uint32))
    fuzzy = fuzzy_names(len(spec.thresholds))
    names = [*names, "one_digit", "typo", *fuzzy, "different"]
    diff = np.where((days_l < -9000) | (days_r < -9000), np.iinfo(np.int32).max, np.abs(days_l - days_r))
    rules = [
        (MISSING, missing),
        *shared_rule(enc, cl, exact, frame, li, r),
        ("exact", exact),
        ("one_digit", known & ((wrong == 1) | swapped)),
        ("typo", known & (same == 2)),
    ]
    rules += [(n, diff <= t) for n, t in zip(fuzzy, spec.thresholds, strict=True)]
    return finish(spec, enc, names, assign(len(li), names, rules), cl)


def compare_source(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """other_source / same_source: whether the two identities come from one channel."""
    assert spec.column is not None
    enc = frame.col(spec.column)
    cl, cr = enc.codes[li], enc.codes[r]
    missing = (cl < 0) | (cr < 0)
    names = [MISSING, "other_source", "same_source"]
    rules = [(MISSING, missing), ("other_source", cl != cr)]
    return Levels(spec.name, names, neutral_flags(names), assign(len(li), names, rules))


def compare(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """Dispatch on the comparison kind."""
    from matching.address import compare_address
    from matching.contact import compare_email, compare_phone, compare_postcode
    from matching.crossfield import compare_name_handle, compare_name_part
    from matching.names import compare_first_name, compare_last_name

    kinds: dict[str, Callable[[ComparisonSpec, Frame, np.ndarray, np.ndarray], Levels]] = {
        "exact": compare_string,
        "string": compare_string,
        "numeric": compare_numeric,
        "date": compare_date,
        "first_name": compare_first_name,
        "last_name": compare_last_name,
        "email": compare_email,
        "phone": compare_phone,
        "postcode": compare_postcode,
        "name_handle": compare_name_handle,
        "name_part": compare_name_part,
        "address": compare_address,
        "source": compare_source,
    }
    return kinds[spec.kind](spec, frame, li, r)
