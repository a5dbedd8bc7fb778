"""Vectorized building blocks of the sample-data generator (numpy + polars, no Python loop per row).

Random strings, templates such as "{f}.{l}{d2}" rendered from columns, the noise real channel data
carries (diacritics dropped or transliterated, typos, case, phone formats) and making ids unique.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from data import vocab

Fix = Callable[[pl.Expr, int], pl.Expr]


def choice(rng: np.random.Generator, n: int, weights: Sequence[float]) -> np.ndarray:
    """n random indices into weights, drawn with those (unnormalized) weights."""
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(w), size=n, p=w / w.sum())


def rand_str(rng: np.random.Generator, n: int, k: int, alphabet: str = "0123456789") -> pl.Series:
    """n random strings of k characters from alphabet."""
    if alphabet == "0123456789" and k <= 18:
        return pl.Series(rng.integers(0, 10**k, n, dtype=np.int64)).cast(pl.Utf8).str.zfill(k)
    chars = pl.Series(list(alphabet), dtype=pl.Utf8)
    return pl.select(
        pl.concat_str([pl.lit(chars[rng.integers(0, len(chars), n)]) for _ in range(k)])
    ).to_series()


def pick(k: pl.Expr | pl.Series, options: Sequence[pl.Expr | str]) -> pl.Expr:
    """options[k] per row (k an integer expression or series); null past the end."""
    key = pl.lit(k) if isinstance(k, pl.Series) else k
    exprs = [pl.lit(o) if isinstance(o, str) else o for o in options]
    expr: Any = pl.when(key == 0).then(exprs[0])
    for i, option in enumerate(exprs[1:], 1):
        expr = expr.when(key == i).then(option)
    return expr.otherwise(None)


def render(template: str, parts: Mapping[str, pl.Expr]) -> pl.Expr:
    """'{f}.{l}{d2}' -> the named parts joined by the literal text between them."""
    pieces = re.split(r"\{(\w+)\}", template)
    return pl.concat_str([parts[p] if i % 2 else pl.lit(p) for i, p in enumerate(pieces) if p or i % 2])


def templates(
    k: pl.Expr | pl.Series, table: Sequence[tuple[str, float]], parts: Mapping[str, pl.Expr]
) -> pl.Expr:
    """The k-th (template, weight) of table per row, rendered from parts."""
    return pick(k, [render(template, parts) for template, _ in table])


def weights_of(table: Sequence[tuple[str, float]]) -> list[float]:
    """The weights of a (value, weight) table."""
    return [weight for _, weight in table]


def rank_within(groups: np.ndarray) -> np.ndarray:
    """Position of each row inside its run of equal, contiguous group values."""
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    return np.arange(len(groups)) - np.repeat(starts, np.diff(np.r_[starts, len(groups)]))


def fold(e: pl.Expr) -> pl.Expr:
    """Drop diacritics: José -> Jose, Müller -> Muller, Łukasz -> Lukasz."""
    e = e.str.replace_many(
        ["ß", "ł", "Ł", "ø", "Ø", "æ", "Æ", "đ"], ["ss", "l", "L", "o", "O", "ae", "Ae", "d"]
    )
    return e.str.normalize("NFKD").str.replace_all(r"\p{M}", "")


def ascii_key(e: pl.Expr) -> pl.Expr:
    """Lower-case ASCII letters only: "O'Brien-Müller" -> "obrienmuller" (for addresses and handles)."""
    return fold(e).str.to_lowercase().str.replace_all(r"[^a-z]", "")


def translit(e: pl.Expr) -> pl.Expr:
    """German-style transliteration: Müller -> Mueller."""
    return e.str.replace_many(["ä", "ö", "ü", "Ä", "Ö", "Ü", "ß"], ["ae", "oe", "ue", "Ae", "Oe", "Ue", "ss"])


def add_typo(e: pl.Expr, kind: pl.Expr, pos_u: pl.Expr, letter: pl.Expr) -> pl.Expr:
    """kind 1 swap, 2 drop, 3 insert, 4 double, 5 replace one character; 0 and short strings unchanged."""
    n = e.str.len_chars()
    pos = (pos_u * (n - 1).cast(pl.Float64)).floor().cast(pl.Int64)
    head, tail, at = e.str.slice(0, pos), e.str.slice(pos + 1), e.str.slice(pos, 1)
    swap = head + e.str.slice(pos + 1, 1) + at + e.str.slice(pos + 2)
    options = [e, swap, head + tail, head + at + letter + tail, head + at + at + tail, head + letter + tail]
    return pl.when(n >= 4).then(pick(kind, options)).otherwise(e)


def vary_case(e: pl.Expr, u: pl.Series) -> pl.Expr:
    """Mostly as typed; some all lower, all upper or title case (McDonald -> Mcdonald)."""
    level = (
        (pl.lit(u) > 0.08).cast(pl.Int8) + (pl.lit(u) > 0.11).cast(pl.Int8) + (pl.lit(u) > 0.13).cast(pl.Int8)
    )
    return pick(level, [e.str.to_lowercase(), e.str.to_uppercase(), e.str.to_titlecase(), e])


def format_phone(nsn: pl.Expr, split: pl.Expr, style: pl.Expr | pl.Series, region: str) -> pl.Expr:
    """A national number written in one of the region's styles: +44 7700 900123, (07700) 900-123, ..."""
    rest = nsn.str.slice(split)
    parts = {"N": nsn, "A": nsn.str.slice(0, split), "B": rest, "C": rest.str.slice(0, 3), "D": rest.str.slice(3)}  # fmt: skip
    return templates(style, vocab.PHONE_STYLES[region], parts)


def iso(seconds: pl.Expr, style: pl.Expr | pl.Series | None = None) -> pl.Expr:
    """ISO-8601 text of epoch seconds: `...Z`, or per row with millis and offset, or with a space."""
    ts = pl.from_epoch(seconds, "s")
    formats = ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%3f+00:00", "%Y-%m-%d %H:%M:%S")
    return ts.dt.strftime(formats[0]) if style is None else pick(style, [ts.dt.strftime(f) for f in formats])


def sparse(frame: pl.DataFrame, rows: np.ndarray, expr: pl.Expr) -> pl.Series:
    """expr (which may only reference columns) evaluated on just `rows`; null on every other row."""
    sub = frame.select(set(expr.meta.root_names()))[rows].select(expr.cast(pl.Utf8)).to_series()
    return pl.repeat(None, frame.height, dtype=pl.Utf8, eager=True).scatter(rows, sub)


def dedup(frame: pl.DataFrame, target: str, fix: Fix, rng: np.random.Generator, key: Sequence[pl.Expr] = (),
           taken: pl.Series | None = None) -> pl.DataFrame:  # fmt: skip
    """Rewrite `target` with fix(8 random digits, k) where its key repeats an earlier row or a taken value."""
    keys = list(key) or [pl.col(target)]
    for attempt in range(12):
        repeated = ~pl.struct(keys).hash(seed=7).is_first_distinct()  # a hash clash only costs a rewrite
        if taken is not None:
            repeated = repeated | keys[-1].is_in(taken.implode())
        rows = frame.select((repeated & pl.col(target).is_not_null()).fill_null(False)).to_series().arg_true()
        if rows.is_empty():
            return frame
        k = min(2 + attempt, 8)  # more digits on each pass, so popular names settle quickly
        fixed = frame[rows].select(fix(pl.lit(rand_str(rng, len(rows), 8)), k)).to_series()
        frame = frame.with_columns(frame[target].clone().scatter(rows, fixed))
    raise RuntimeError(f"could not make {target} unique")


def at_email(column: str) -> Fix:
    """Fix an address by adding digits to its local part."""
    return lambda r, k: pl.col(column).str.replace("@", r.str.slice(0, k) + "@", literal=True)


def same_length(column: str) -> Fix:
    """Fix a number-like id by replacing its last digits."""
    return lambda r, k: pl.col(column).str.slice(0, pl.col(column).str.len_chars() - k) + r.str.slice(0, k)


def capped(column: str, cap: int) -> Fix:
    """Fix a handle by adding digits, keeping it within `cap` characters."""
    return lambda r, k: pl.col(column).str.slice(0, cap - k) + r.str.slice(0, k)
