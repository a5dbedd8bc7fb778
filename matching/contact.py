"""Email, phone and postcode comparisons."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
from rapidfuzz import distance, process

from matching.comparisons import (
    HOUSEHOLD,
    MISSING,
    NAME_STEM,
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
from matching.names import full_name_holders
from matching.shared import first_names_differ, same_surname_other_person


def alnum(s: pl.Expr) -> pl.Expr:
    """Lower-cased, letters and digits only (null when nothing is left): an email local part or a
    handle as same_local and name_handle compare them, separators aside."""
    return s.str.to_lowercase().str.replace_all(r"[^a-z0-9]", "").replace("", None)


def compare_email(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact (provider-folded key) / shared / same_local (the local part, separators aside, in another
    address) / close (typo) / different."""
    assert spec.column is not None and spec.thresholds is not None
    key = frame.col(spec.column, shared=spec.shared_values)
    norm_col = spec.columns[0] if spec.columns else spec.column
    norm = frame.col(norm_col)
    cl, _, _, exact, names = exact_part(spec, key, li, r)
    nl, nr = norm.codes[li], norm.codes[r]
    missing = ((cl < 0) & (nl < 0)) | ((key.codes[r] < 0) & (nr < 0))
    exact &= ~missing
    # the local part without separators: "melanie.cooper" and "melanie_cooper" are two mailboxes
    # (gmail's dots are folded into the key already) built the same way from one name, another
    # address like one at another domain, not a typo of it (gen2-1m: 1,653 such pairs at p >= 0.8
    # as close, 8.6% one person; gen1-100k: 5)
    # the raw local part and its letters derived once per frame: several statistics read them
    local_part = frame.per_row(
        f"{norm_col}:local", lambda df: df.get_column(norm_col).str.extract(r"^([^@]+)@", 1)
    )
    local_letters = frame.per_row(f"{norm_col}:local:letters", lambda df: _letters(local_part(df)))
    local = frame.hashed(
        f"{norm_col}:local_alnum",
        lambda df: local_part(df).to_frame("e").select(alnum(pl.col("e"))).to_series(),
    )
    ll, lr = local[li], local[r]
    rest = ~missing & ~exact
    same_local = rest & (ll != 0) & (ll == lr)
    sim = similarity(norm, nl, nr, rest & ~same_local & (nl >= 0) & (nr >= 0), "levenshtein")
    names = [*names, "same_local", "close", NAME_STEM, "different"]
    rules = [(MISSING, missing), *shared_rule(key, cl, exact, frame, li, r), ("exact", exact)]
    close = sim >= spec.thresholds[0]
    # two numbers on one stem: no evidence either way (see other_number), the names decide
    numbered = close.copy()  # tested on the close pairs only (a few percent of the candidates)
    at = np.flatnonzero(close)
    numbered[at] = other_number(frame, f"{norm_col}:local", local_part, li[at], r[at])
    rules += [("same_local", same_local), (NAME_STEM, numbered), ("close", close)]
    out = finish(spec, key, names, assign(len(li), names, rules), cl)
    # named as other_number names the stem: its surname test is read from the cache, not run again
    return stem_tf(out, frame, li, r, f"{norm_col}:local:letters", local_letters, ("same_local", "close"))


def other_number(
    frame: Frame, name: str, make: Callable[[pl.DataFrame], pl.Series], li: np.ndarray, r: np.ndarray
) -> np.ndarray:
    """Per pair: the two values spell the same letters around two different numbers.

    "kimberly02" / "kimberly74", "kimberly_91" / "kimberly_62" are near matches to a string
    scorer, yet the stem is the first name and the numbers are what tells the holders apart: on
    gen2-100k 1 of 956 such near-matching emails and handles with two or more digits apart was
    one person's, 26 of 272 with one. One person's two numbered addresses exist too ("shaun.adams28",
    "shaun.adams61", gen1), so the level is neutral (name_stem), not a disagreement: the names
    decide. A number added, dropped or extended ("john.smith" / "john.smith84", "kimberly9" /
    "kimberly91") is not this.
    """
    # the letters, missing (hash 0) where there are none: "1234" / "5678" have no stem
    letters_of = frame.per_row(f"{name}:letters", lambda df: _letters(make(df).cast(pl.String)))
    letters = frame.hashed(f"{name}:letters", lambda df: letters_of(df).replace("", None))
    digits = lambda df: make(df).cast(pl.String).str.replace_all(r"[^0-9]", "").replace("", None)  # noqa: E731
    number = frame.hashed(f"{name}:digits", digits)
    # a stem spelling a surname ("dianegray11" / "dianegray57") is one person's often enough
    surname = _name_derived(frame, f"{name}:letters", letters_of)
    out = (
        ~surname[li] & ~surname[r]
        & (letters[li] != 0) & (letters[li] == letters[r])
        & (number[li] != 0) & (number[r] != 0) & (number[li] != number[r])
    )  # fmt: skip
    # a number extended or cut ("kimberly9" / "kimberly91") may be one person's: only numbers
    # neither of which contains the other count (few pairs: their strings are read here)
    hit = np.flatnonzero(out)
    if len(hit):
        a = digits(frame.df[pl.Series(li[hit].astype(np.int64))])
        b = digits(frame.df[pl.Series(r[hit].astype(np.int64))])
        pair = pl.DataFrame({"a": a, "b": b})
        nested = pair.select(
            pl.col("a").str.contains(pl.col("b"), literal=True)
            | pl.col("b").str.contains(pl.col("a"), literal=True)
        )[:, 0]
        out[hit[nested.to_numpy()]] = False
    return out


def _letters(s: pl.Series) -> pl.Series:
    return s.str.to_lowercase().str.replace_all(r"[^a-z]", "")


def stem_tf(
    out: Levels,
    frame: Frame,
    li: np.ndarray,
    r: np.ndarray,
    name: str,
    make: Callable[[pl.DataFrame], pl.Series],
    levels: tuple[str, ...],
    handle: bool = False,
) -> Levels:
    """Term-frequency adjust near-agreement levels by how common the value's letter stem is.

    Handles and email local parts are mostly built from names, so "johnsmith" agreeing across
    two identities is expected for two different John Smiths: weigh it by the stem's frequency.
    `make` gives the letter stem (lower-case letters only).
    """
    freq = frame.row_frequency(name, make)
    if out.tf is None:
        out.tf = np.full(len(li), np.nan)
    derived = _name_derived(frame, name, make)
    # computed here, not only for the pairs that need it: a partition's frame gets it from the probe
    names = NAME_COLUMNS if all(c in frame.df.columns for c in NAME_COLUMNS) else None
    # per row: holds a full name (first and last)
    full = ~np.isnan(full_name_holders(frame, *names)) if handle and names else None
    for level in levels:
        if level in out.level_names:
            hit = out.levels == out.level(level)
            out.tf[hit] = freq[li[hit]]
            # a near match of two stems that both just spell the person's surname adds nothing
            # the name comparisons have not counted already: neutral level name_stem
            stem = hit & derived[li] & derived[r]
            stem |= _names_explain(frame, make, li, r, hit & ~stem, derived, level == "close", full)
            out.levels[stem] = out.level(NAME_STEM)
            out.tf[stem] = np.nan
    return out


# Near handles spelling the pair's surname, one side holding a full name, are the names' evidence:
# a person's handles vary by a separator or a number ("paula_walker5" / "paula_walker555") and so
# do namesakes' (screen_name close pairs whose letters are equal were one person 44-56% of the time
# on gen1-1m, 60-73% on gen1-100k). Until the name cells (matching/name_cells.py) measured how
# often a shared name is one person, this held only above 3 holders of the name, to keep gen1's
# one-person handles counted (gen1-100k cluster F1 0.4239 against 0.4227 always); with the cells
# it holds always: gen1-1m review band 0.957 -> 0.962 (cluster 0.945 -> 0.951), gen2-1m 0.963 ->
# 0.964, gen1-100k cluster F1 0.441 -> 0.437.
NAME_COLUMNS = ("first_name_key", "last_name_key")
# surnames at most this Jaro-Winkler similar are two surnames, not one with a typo (the name
# comparisons' "far" threshold: below it last_name says "different")
OTHER_SURNAME_SIMILARITY = 0.8


def _names_explain(
    frame: Frame,
    make: Callable[[pl.DataFrame], pl.Series],
    li: np.ndarray,
    r: np.ndarray,
    mask: np.ndarray,
    derived: np.ndarray,
    near: bool,
    full: np.ndarray | None,
) -> np.ndarray:
    """Under `mask`: the two stems' agreement is the names', which the name comparisons count.

    One local part at two domains (not `near`): each stem spells its own holder's surname or the
    other's ("nigel.haynes" at gmail and sky held by Nigel Hynes and Nigel Haynes, the surname
    mistyped in a name field, not in the address; or by Nigel and Nigel Haynes). Namesakes build
    their addresses from their names the same way: gen2-1m, 1,109 of 1,320 same_local pairs at
    p >= 0.8 with an agreeing first name were two people. A near match (`near`: a typo, a number
    added) of one address is left alone: mostly one person's address typed twice ("julie.hughes"
    / "julie.hughes52" at one domain, 97% one person on gen1-100k), unless both stems spell their
    holder's own first name while the surnames differ ("kayleighllo" / "kayleighlew" of Kayleigh
    Lloyd and Kayleigh Lewis: gen2-100k, 23 of 25 such close handles at p >= 0.8 two people).
    Near handles spelling the pair's surname where a side holds a full name (`full`, per row)
    are the names' evidence too (see above NAME_COLUMNS).
    """
    out = np.zeros(len(li), dtype=bool)
    cols = NAME_COLUMNS
    hit = np.flatnonzero(mask)
    if not len(hit) or not all(c in frame.df.columns for c in cols):
        return out
    sides = []
    for rows in (li[hit], r[hit]):
        sub = frame.df[pl.Series(rows.astype(np.int64))]
        sides.append(
            pl.DataFrame(
                {
                    "s": make(sub).cast(pl.String),  # the letter stem already (stem_tf)
                    "f": _letters(sub.get_column(cols[0]).cast(pl.String)),
                    "l": _letters(sub.get_column(cols[1]).cast(pl.String)),
                }
            )
        )

    def spells(side: pl.DataFrame, part: pl.Series) -> np.ndarray:
        both = pl.DataFrame({"s": side.get_column("s"), "p": part})
        ok = (pl.col("p").str.len_chars() >= 3) & pl.col("s").str.contains(pl.col("p"), literal=True)
        return both.select(ok.fill_null(False))[:, 0].to_numpy()

    left, right = sides
    a, b = left.get_column("l"), right.get_column("l")
    known = (a.is_not_null() & b.is_not_null()).to_numpy()
    spelled = (derived[li[hit]] | spells(left, b)) & (derived[r[hit]] | spells(right, a))
    if not near:
        # a side without any name: the shared local part is the only trace of the name (name_handle
        # drops an address both sides hold), so it stays evidence
        named = [
            (side.get_column("f").is_not_null() | side.get_column("l").is_not_null()).to_numpy()
            for side in sides
        ]
        out[hit] = spelled & named[0] & named[1]
    else:
        if full is not None:
            out[hit] = spelled & (full[li[hit]] | full[r[hit]])  # one side may have no name
        sim = process.cpdist(
            a.fill_null("").to_list(), b.fill_null("").to_list(),
            scorer=distance.JaroWinkler.normalized_similarity, workers=-1,
        )  # fmt: skip
        first = spells(left, left.get_column("f")) & spells(right, right.get_column("f"))
        out[hit] |= first & known & (sim < OTHER_SURNAME_SIMILARITY)
        # and the other way round: one surname spelled, two first names ("aberry" / "jberry" of
        # Anna and John Berry, a household's addresses; gen2-100k: 8 of 8 such pairs at p >= 0.8)
        out[hit] |= spelled & first_names_differ(frame, li[hit], r[hit])
    return out


def _name_derived(frame: Frame, name: str, letters: Callable[[pl.DataFrame], pl.Series]) -> np.ndarray:
    """Per row: the letter stem `letters` gives contains the row's surname (3 letters or more)."""
    key = ("name_derived", name)
    hit = frame.cache.get(key)
    if isinstance(hit, np.ndarray):
        return hit
    last = "last_name_key"
    if last not in frame.df.columns:
        out = np.zeros(frame.n, dtype=bool)
    else:
        # per row: only the rows comparisons read (all, or the focus of an incremental run)
        rows = frame.df if frame.focus is None else frame.df[pl.Series(frame.focus)]
        stem = letters(rows)
        sur = rows.get_column(last).cast(pl.String).str.to_lowercase()
        df = pl.DataFrame({"s": stem, "n": sur})
        ok = (pl.col("n").str.len_chars() >= 3) & pl.col("s").str.contains(pl.col("n"), literal=True)
        hits = df.select(ok.fill_null(False))[:, 0].to_numpy()
        if frame.focus is None:
            out = hits
        else:
            out = np.zeros(frame.n, dtype=bool)
            out[frame.focus] = hits
    frame.cache[key] = out
    return out


def compare_phone(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / shared / national (same national significant digits: region unknown or another country
    code) / close / different.

    The national level reads `spec.columns[0]` (phone_national, matching/phones.py): a number
    with no E.164 (national format, region unknown) still agrees with its international form
    there. Without that column it falls back to the last 9 digits of the E.164 form, the national
    significant number length of most European mobiles. close is one substituted or transposed
    digit (optimal string alignment distance 1) at equal length.
    """
    assert spec.column is not None
    col = spec.column
    enc = frame.col(col, shared=spec.shared_values)
    cl, cr, missing, exact, names = exact_part(spec, enc, li, r)
    national_col = spec.columns[0] if spec.columns and spec.columns[0] in frame.df.columns else None
    if national_col is not None:
        tail = frame.hashed(f"{national_col}:digits", lambda df: df.get_column(national_col).cast(pl.String))
        missing = (tail[li] == 0) | (tail[r] == 0)
        exact &= ~missing
    else:
        tail = frame.hashed(
            f"{col}:last9",
            lambda df: df.get_column(col).cast(pl.String).str.replace_all(r"\D", "").str.slice(-9),
        )
    rest = ~missing & ~exact
    national = rest & (tail[li] == tail[r]) & (tail[li] != 0)

    def osa(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        va = pl.Series(enc.vocab[a].tolist(), dtype=pl.String).str.replace_all(r"\D", "")
        vb = pl.Series(enc.vocab[b].tolist(), dtype=pl.String).str.replace_all(r"\D", "")
        d = process.cpdist(
            va.to_list(), vb.to_list(), scorer=distance.OSA.distance, workers=-1, dtype=np.int32
        )
        return (d <= 1) & (va.str.len_chars() == vb.str.len_chars()).to_numpy()

    both = (cl >= 0) & (cr >= 0)
    close = on_distinct(cl, cr, rest & ~national & both, osa, len(enc.vocab)) > 0
    names = [*names, HOUSEHOLD, "national", "close", "different"]
    rules = [(MISSING, missing), *shared_rule(enc, cl, exact, frame, li, r)]
    # a number that a Smith and another Smith both give is their home's: neutral, the names decide
    # (gen2-100k / gen2-1m / gen1-1m: 25% / 27% / 37% of such pairs one person, each at p ~0.98
    # with the phone's weight)
    home = exact | national
    at = np.flatnonzero(home)  # names read for the agreeing pairs only (a tenth of the candidates)
    home[at] = same_surname_other_person(frame, li[at], r[at])
    rules += [(HOUSEHOLD, home), ("exact", exact), ("national", national), ("close", close)]
    return finish(spec, enc, names, assign(len(li), names, rules), cl)


def compare_postcode(spec: ComparisonSpec, frame: Frame, li: np.ndarray, r: np.ndarray) -> Levels:
    """exact / close (one edit) / area (same outward code: all but the last 3 characters) / different."""
    assert spec.column is not None
    col = spec.column
    enc = frame.col(col, shared=spec.shared_values)
    cl, cr, missing, exact, names = exact_part(spec, enc, li, r)
    area = frame.hashed(
        f"{col}:area",
        lambda df: df.select(
            pl.when(pl.col(col).str.len_chars() >= 5)
            .then(pl.col(col).str.slice(0, pl.col(col).str.len_chars() - 3))
            .otherwise(pl.col(col).str.slice(0, 3))
        ).to_series(),
    )
    rest = ~missing & ~exact
    sim = similarity(enc, cl, cr, rest, "levenshtein")
    lengths = pl.Series(enc.vocab.tolist(), dtype=pl.String).str.len_chars().to_numpy()
    longest = np.maximum(lengths[np.maximum(cl, 0)], lengths[np.maximum(cr, 0)])
    one_edit = rest & (sim >= 1.0 - 1.0 / np.maximum(longest, 1) - 1e-6)
    same_area = rest & (area[li] == area[r]) & (area[li] != 0)
    names = [*names, "close", "area", "different"]
    rules = [(MISSING, missing), *shared_rule(enc, cl, exact, frame, li, r), ("exact", exact)]
    rules += [("close", one_edit), ("area", same_area)]
    return finish(spec, enc, names, assign(len(li), names, rules), cl)
