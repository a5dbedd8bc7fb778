"""Cross-field evidence: a person's name against the other identity's email local part or handle.

Many identities carry only one kind of value (a Twitter handle, an SMS number, an email), so
`jordan.berry7@...` and `@jberry` are compared with "Jordan Berry". These comparisons only
apply where the direct ones cannot (one side has no name; or neither email nor handle is on
both sides): when both sides have names, a handle containing a name adds nothing the name
comparison has not already counted, and counting it again would make common names chain.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from matching.comparisons import NA, Levels, cpdist, finish
from matching.config import ComparisonSpec
from matching.contact import alnum
from matching.frequency import Frame
from matching.names import full_name_u

LEVELS = [NA, "handle_exact", "full", "initial_surname", "handle_close", "surname", "first_name", "none"]
_NAME_CODE = {1: "full", 2: "initial_surname", 3: "surname", 4: "first_name", 5: "none"}


def _letters(s: pl.Expr) -> pl.Expr:
    return s.str.to_lowercase().str.replace_all(r"[^a-z]", "").replace("", None)


def _name_vs_handles(df: pl.DataFrame) -> np.ndarray:
    """Code 1..5 (full, initial_surname, surname, first_name, none) per row of (first, last, h1, h2)."""
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


def _token_tf(frame: Frame, first_c: str, last_c: str) -> dict[str, np.ndarray]:
    """Per row and name-token level, the token's term frequency among customers (nan where missing)."""
    first, last = pl.col("f"), pl.col("l")
    exprs = {
        "full": pl.concat_str([first, last]),
        "initial_surname": pl.concat_str([first.str.slice(0, 1), last]),
        "surname": last,
        "first_name": first,
    }
    # the letters of both names once a frame (shared with _handles), not once per token level

    def maker(expr: pl.Expr) -> Callable[[pl.DataFrame], pl.Series]:
        def make(df: pl.DataFrame) -> pl.Series:
            return _name_letters(frame, first_c, last_c, df).select(expr).to_series()

        return make

    return {
        level: frame.row_frequency(f"name_token:{level}:{first_c}:{last_c}", maker(expr))
        for level, expr in exprs.items()
    }


# rows the share of handles holding their own name is measured on, at most (a rate, not a count)
OWN_HANDLE_SAMPLE = 100_000


def _name_letters(frame: Frame, first_c: str, last_c: str, df: pl.DataFrame | None = None) -> pl.DataFrame:
    """Per row of df (default: the frame's): letters of the first and last name (f, l), derived
    once for the frame's own rows."""

    def make(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.select(_letters(pl.col(first_c)).alias("f"), _letters(pl.col(last_c)).alias("l"))

    if df is not None and df is not frame.df:
        return make(df)
    return frame.rows(f"name_letters:{first_c}:{last_c}", make)


def _handles(frame: Frame, columns: list[str]) -> pl.DataFrame:
    """Per row: letters of the first and last name (first, last), of the email local part (h1) and
    the screen name (h2); alphanumerics of both (a, b: contact.alnum); the screen
    name lower-cased (s). Derived once per frame and gathered per pair."""
    first_c, last_c, email_c, screen_c = columns

    def make(df: pl.DataFrame) -> pl.DataFrame:
        names = _name_letters(frame, first_c, last_c).select(first="f", last="l")
        # the local part extracted once for its letters and alphanumerics
        local = df.select(pl.col(email_c).str.extract(r"^([^@]+)@", 1).alias("e"), pl.col(screen_c))
        handles = local.select(
            _letters(pl.col("e")).alias("h1"),
            _letters(pl.col(screen_c)).alias("h2"),
            alnum(pl.col("e")).alias("a"),
            alnum(pl.col(screen_c)).alias("b"),
            pl.col(screen_c).str.to_lowercase().alias("s"),
        )
        return pl.concat([names, handles], how="horizontal")

    return frame.rows("handles:" + ":".join(columns), make)


def _own_handle_rate(frame: Frame, columns: list[str]) -> float:
    """Share of identities with a full name and an email or handle whose email local part or handle holds it."""
    own = (
        _handles(frame, columns)
        .select("first", "last", "h1", "h2")
        .filter(
            pl.col("first").is_not_null()
            & pl.col("last").is_not_null()
            & (pl.col("h1").is_not_null() | pl.col("h2").is_not_null())
        )
    )
    if own.height == 0:
        return 1.0
    if own.height > OWN_HANDLE_SAMPLE:  # evenly spaced rows: deterministic, and ~0.3% standard error
        own = own.gather_every(own.height // OWN_HANDLE_SAMPLE + 1)
    return float((_name_vs_handles(own) == 1).mean())


def _full_in_handle_u(frame: Frame, columns: list[str]) -> np.ndarray:
    """Per named row: u of another identity's handle holding this row's whole name (nan without one).

    Another person's handle holds "jordanberry" when that person is a Jordan Berry (the u of the
    full name, as first- and last-name agreement weigh it: names.full_name_u) and writes their
    name into their handle (the share measured on identities holding both: `_own_handle_rate`).
    The handle's holder is one of the name's holders, as both sides of a name-to-name pair are:
    the name held by h customers counts h + 1. The concatenation's raw frequency that this
    replaces counted the named side alone and ignored the full name's rarity: such pairs, 86% one
    person on gen1-100k (nothing else shared), scored p ~0.01.
    """
    first_c, last_c = columns[0], columns[1]
    key = ("freq", f"full_in_handle:{':'.join(columns)}")
    hit = frame.cache.get(key)
    if isinstance(hit, np.ndarray):
        return hit
    frame._miss(key)
    u, holders = full_name_u(frame, first_c, last_c)
    out = u * (holders + 1) / holders * _own_handle_rate(frame, columns)
    frame.cache[key] = out
    return out


def _drop_counted(sub: pl.DataFrame, handles: pl.DataFrame, nrow: pl.Series, hrow: pl.Series) -> pl.DataFrame:
    """sub with h1 / h2 nulled where the named side holds the same email local part / screen name.

    The direct comparison has counted that agreement already ("a.hill@yahoo" / "a.hill@gmail":
    email same_local), and that the named side's name is in its own handle says nothing about
    the pair: counting it again gave such pairs ~10 more bits (gen2-100k: 83 of 123 such pairs
    at p >= 0.8 were two people, namesakes building their addresses the same way). A typo or a
    separator apart ("wesselroosenboom" / "wesselrosenboom", "john.smith" / "johnsmith") is left
    alone: mostly one person's address typed twice (gen2-100k: 92 of 98 typo pairs).
    """
    # email local parts as the email comparison's same_local reads them (separators aside)
    own = handles.select("a", "s")
    a, b = own[nrow], own[hrow]
    out = {}
    for col, h in (("a", "h1"), ("s", "h2")):
        x, y = a.get_column(col), b.get_column(col)
        same = (x == y).fill_null(False)
        out[h] = pl.when(same).then(None).otherwise(sub.get_column(h))
    return sub.with_columns(**out)


def compare_name_handle(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """One side's name (or email local part) against the other's handles, when only one side has a name.

    handle_exact / handle_close: email local part vs screen name (alphanumerics equal / letters
    equal or Jaro-Winkler >= threshold) when neither email nor screen name is on both sides.
    full / initial_surname / surname / first_name: how much of the named side's name the other
    side's email local part or screen name contains. Name-token levels are term-frequency
    adjusted: "jsmith" is weaker evidence than "kzetvornel".
    """
    first_c, last_c, email_c, screen_c = spec.columns
    threshold = (spec.thresholds or [0.9])[0]
    df = frame.df
    has_name = (df.get_column(first_c).is_not_null() | df.get_column(last_c).is_not_null()).to_numpy()
    has_e = df.get_column(email_c).is_not_null().to_numpy()
    has_s = df.get_column(screen_c).is_not_null().to_numpy()
    handles = _handles(frame, spec.columns)
    n = len(li)
    levels = np.zeros(n, dtype=np.int8)
    tf = np.full(n, np.nan)
    one_named = has_name[li] != has_name[r]
    direct = (has_e[li] & has_e[r]) | (has_s[li] & has_s[r])
    # email local part vs screen name
    for e_side, s_side in ((li, r), (r, li)):
        gate = ~(has_name[li] & has_name[r]) & ~direct & has_e[e_side] & has_s[s_side] & (levels == 0)
        if not gate.any():
            continue
        sub = pl.DataFrame(
            {
                "a": handles.get_column("a").gather(pl.Series(e_side[gate])),
                "b": handles.get_column("b").gather(pl.Series(s_side[gate])),
            }
        )
        sub = sub.with_columns(
            (pl.col("a") == pl.col("b")).fill_null(False).alias("eq"),
            (pl.col("a").str.replace_all(r"\d", "") == pl.col("b").str.replace_all(r"\d", ""))
            .fill_null(False)
            .alias("leq"),
        )
        sim = cpdist(
            sub.get_column("a").fill_null("").to_list(),
            sub.get_column("b").fill_null("").to_list(),
            "jaro_winkler",
        )
        ok = (sub.get_column("a").is_not_null() & sub.get_column("b").is_not_null()).to_numpy()
        code = np.where(
            sub.get_column("eq").to_numpy(),
            1,
            np.where(sub.get_column("leq").to_numpy() | (sim >= threshold), 4, 0),
        )
        levels[gate] = np.where(ok, code, 0)
    # name vs handles
    freq = {**_token_tf(frame, first_c, last_c), "full": _full_in_handle_u(frame, spec.columns)}
    for name_side, handle_side in ((li, r), (r, li)):
        gate = one_named & has_name[name_side] & (has_e[handle_side] | has_s[handle_side])
        if not gate.any():
            continue
        nrow, hrow = pl.Series(name_side[gate]), pl.Series(handle_side[gate])
        sub = pl.concat(
            [handles.select("first", "last")[nrow], handles.select("h1", "h2")[hrow]], how="horizontal"
        )
        sub = _drop_counted(sub, handles, nrow, hrow)
        code = _name_vs_handles(sub)
        lv = np.array([LEVELS.index(_NAME_CODE[int(c)]) for c in range(6) if c > 0], dtype=np.int8)[code - 1]
        current = levels[gate]
        # nothing left to compare once the counted handles are dropped: the level stays n/a
        left = (sub.get_column("h1").is_not_null() | sub.get_column("h2").is_not_null()).to_numpy()
        better = left & ((current == 0) | (lv < current))
        idx = np.flatnonzero(gate)[better]
        levels[idx] = lv[better]
        rows = name_side[idx]
        for level in ("full", "initial_surname", "surname", "first_name"):
            hit = levels[idx] == LEVELS.index(level)
            tf[idx[hit]] = freq[level][rows[hit]]
    out = finish(spec, None, list(LEVELS), levels)
    out.tf = tf
    return out


PART_LEVELS = [NA, "surname", "first_name", "none"]
# the shortest name part looked for in a handle: as name_handle's surname / first_name levels
# (`_name_vs_handles`), a 3-letter part ("ann", "lee") sits inside too many unrelated handles
MIN_PART_LETTERS = 4


def _part_found(
    frame: Frame, columns: list[str], part_c: str, holder: np.ndarray, lacker: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(looked, found) per pair: the holder's name part is looked for / found in the lacker's own handles."""
    first_c, last_c = columns[0], columns[1]
    hrow, lrow = pl.Series(holder), pl.Series(lacker)
    # the per-row letters name_handle derives once a frame (_handles), gathered per pair
    handles = _handles(frame, columns)
    part_letters = {first_c: "first", last_c: "last"}[part_c]  # the part is one of the two names
    sub = pl.concat(
        [handles.select(pl.col(part_letters).alias("part"))[hrow], handles.select("h1", "h2")[lrow]],
        how="horizontal",
    )
    # an email local part or screen name both sides hold is the direct comparisons' evidence
    sub = _drop_counted(sub, handles, hrow, lrow)
    part = pl.col("part")
    looked = (
        (part.str.len_chars() >= MIN_PART_LETTERS) & (pl.col("h1").is_not_null() | pl.col("h2").is_not_null())
    ).fill_null(False)
    found = pl.any_horizontal(
        h.str.contains(part, literal=True).fill_null(False) for h in (pl.col("h1"), pl.col("h2"))
    )
    out = sub.select(looked.alias("looked"), (looked & found).alias("found"))
    return out.get_column("looked").to_numpy(), out.get_column("found").to_numpy()


def compare_name_part(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """A name part one named side lacks, looked for in that side's own email local part or handle.

    "Jordan Berry" against "Jordan" <jberry7@...>: the surname comparison is missing, yet the
    second identity's own address spells the surname. surname / first_name: the missing part
    found (term-frequency adjusted by the part's token frequency: "smith" is weaker than
    "kzetvornel"); none: looked for and not found. Only where both sides have a name; where one
    has none, name_handle compares the whole name with the handles instead.
    """
    first_c, last_c, _email_c, screen_c = spec.columns
    df = frame.df
    has_f = df.get_column(first_c).is_not_null().to_numpy()
    has_l = df.get_column(last_c).is_not_null().to_numpy()
    has_h = (df.get_column(spec.columns[2]).is_not_null() | df.get_column(screen_c).is_not_null()).to_numpy()
    n = len(li)
    levels = np.zeros(n, dtype=np.int8)
    tf = np.full(n, np.nan)
    freq = _token_tf(frame, first_c, last_c)
    none = PART_LEVELS.index("none")
    for level, part_c, has_part, has_other in (
        ("surname", last_c, has_l, has_f),
        ("first_name", first_c, has_f, has_l),
    ):
        code = PART_LEVELS.index(level)
        for holder, lacker in ((li, r), (r, li)):
            # the lacker is named by its other part (no name at all: name_handle's case)
            gate = has_part[holder] & ~has_part[lacker] & has_other[lacker] & has_h[lacker]
            gate &= (levels == 0) | (levels == none)  # a part found already is the stronger level
            idx = np.flatnonzero(gate)
            if not len(idx):
                continue
            looked, found = _part_found(frame, spec.columns, part_c, holder[idx], lacker[idx])
            levels[idx[looked & ~found]] = none
            hit = idx[found]
            levels[hit] = code
            tf[hit] = freq[level][holder[hit]]
    out = finish(spec, None, list(PART_LEVELS), levels)
    out.tf = tf
    return out
