"""Cluster-level evidence measured on the data itself: contact values private to a few customers.

An email, phone or handle held by only two to five customers is usually one person's (one
person's sms and WhatsApp identities), sometimes a household's or a team's. The Fellegi-Sunter
score cannot tell: its prior is the chance that two *random* identities are one person, and a
single exact value rarely overcomes it (at 10k identities a unique shared mobile scores ~0.03,
although 97% of such pairs are one person). Which of the two it is can be measured on the data:
among private values whose holders are *named* (at least two customers with a name), the share
whose names are compatible (typo-, nickname-, swap-tolerant: matching/shared.py) is the share
held by one person. That rate, smoothed with one pseudo-count each way (Laplace), is the
probability that a private value is one person's; a pair agreeing on it scores at least

    log2(rate / (1 - rate)) + the pair's negative field weights (other fields that disagree),

so disagreement still counts against it, and positive evidence is never counted twice (the pair
keeps its own score when that is higher). Disagreeing names do not count when the names are
compatible after all ("Amanda M" and "Amanda Mason": an initial the levels call different), nor
does the name-to-handle resemblance (a handle like "ninjadragon18" resembles nobody's name). A
value whose named holders are clearly different people gets nothing: it is a household's or a
team's. Each raised pair carries one evidence item saying which value and rate raised it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from matching.comparisons import Levels
from matching.config import MatchConfig
from matching.frequency import Encoded, Frame
from matching.shared import _names, compatible, pair_compatible

# comparisons of names: their disagreement is discounted when the names are compatible
NAME_KINDS = ("first_name", "last_name")
# the levels meaning "the two identities hold this very value", and the column holding it
# (None: the comparison's own column); a phone's national digits agree at level "national"
AGREE_LEVELS: dict[str, str | None] = {"exact": None, "national": "phone_national"}


def _value_status(frame: Frame, enc: Encoded, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per code in `codes` (sorted, unique): (tested, clean).

    tested: at least two distinct customers holding it are named; clean: no two of its named
    holders are clearly different people (always True when untested).
    """
    tested = np.zeros(len(codes), dtype=bool)
    clean = np.ones(len(codes), dtype=bool)
    if len(codes) == 0:
        return tested, clean
    rows = np.flatnonzero(np.isin(enc.codes, codes))
    first, last = _names(frame, rows)
    holders = (
        pl.DataFrame(
            {"v": enc.codes[rows], "c": frame.customer[rows], "f": first, "l": last},
            schema={"v": pl.Int64, "c": pl.Int64, "f": pl.String, "l": pl.String},
        )
        .filter(pl.col("f").is_not_null() | pl.col("l").is_not_null())
        .unique(["v", "c", "f", "l"], maintain_order=True)
    )
    named = holders.group_by("v").agg(pl.col("c").n_unique().alias("n")).filter(pl.col("n") >= 2)
    pos = np.searchsorted(codes, named.get_column("v").to_numpy())
    tested[pos] = True
    pairs = holders.join(holders, on="v", suffix="_b").filter(pl.col("c") < pl.col("c_b"))
    if pairs.height:
        same = compatible(
            pairs.get_column("f").to_list(), pairs.get_column("l").to_list(),
            pairs.get_column("f_b").to_list(), pairs.get_column("l_b").to_list(),
        )  # fmt: skip
        different = np.unique(pairs.get_column("v").to_numpy()[~same])
        clean[np.searchsorted(codes, different)] = False
    return tested, clean


def private_value_rates(holders: np.ndarray, tested: np.ndarray, clean: np.ndarray) -> dict[int, float]:
    """Per number of holders: the share of tested values held by one person, Laplace-smoothed.

    One pseudo-count each way: a count never tested reads 1/2, which raises no pair.
    """
    out = {}
    for k in np.unique(holders).astype(int).tolist():
        at = holders == k
        out[k] = (int((tested & clean & at).sum()) + 1) / (int((tested & at).sum()) + 2)
    return out


@dataclass
class PrivateValues:
    """A contact column's private values (held by 2..limit customers) and what their holders show."""

    enc: Encoded
    private: np.ndarray  # sorted codes of the private values
    holders: np.ndarray  # customers holding each
    tested: np.ndarray  # per private value (see _value_status)
    clean: np.ndarray
    rates: dict[int, float]  # per holder count (private_value_rates)


def _agreeing(config: MatchConfig, levels: list[Levels]) -> list[tuple[int, str, str, np.ndarray]]:
    """The pairs agreeing on a contact value (only they can be raised): comparison, name, column, pairs."""
    out = []
    for c, (spec, lv) in enumerate(zip(config.active_comparisons(), levels, strict=True)):
        if not spec.shared_values or spec.column is None:
            continue
        for level, column in AGREE_LEVELS.items():
            if level not in lv.level_names or (column is not None and column not in spec.columns):
                continue
            out.append((c, spec.name, column or spec.column, np.flatnonzero(lv.levels == lv.level(level))))
    return out


def private_values(frame: Frame, config: MatchConfig, levels: list[Levels]) -> dict[str, PrivateValues]:
    """Per contact column pairs agree on: its private values' status (no model needed: computed
    while the model is fitted)."""
    limit = config.private_value_max_customers
    out: dict[str, PrivateValues] = {}
    if limit < 2 or not levels or len(levels[0].levels) == 0:
        return out
    for _c, _field, column, hit in _agreeing(config, levels):
        if column in out or len(hit) == 0:
            continue
        enc = frame.col(column, shared=True)
        private = np.flatnonzero((enc.customers >= 2) & (enc.customers <= limit))
        holders = enc.customers[private]
        tested, clean = _value_status(frame, enc, private)
        out[column] = PrivateValues(
            enc, private, holders, tested, clean, private_value_rates(holders, tested, clean)
        )
    return out


def private_value_floor(
    frame: Frame, config: MatchConfig, levels: list[Levels], fields: np.ndarray, cand_left: np.ndarray,
    cand_right: np.ndarray, values: dict[str, PrivateValues] | None = None,
) -> tuple[np.ndarray, pl.Series]:  # fmt: skip
    """Per candidate pair: the floor of its match weight (bits, -inf where none) and its evidence item.

    `values`: private_values of these levels, when already computed.
    """
    n = len(cand_left)
    floor = np.full(n, -np.inf)
    items: list[tuple[np.ndarray, list[str]]] = []  # (pairs, items): a later raise overwrites
    limit = config.private_value_max_customers
    if limit < 2 or n == 0:
        return floor, scattered(n, items)
    specs = config.active_comparisons()
    names = np.array([s.kind in NAME_KINDS for s in specs])
    handle = np.array([s.kind in ("name_handle", "name_part") for s in specs])
    agreeing = _agreeing(config, levels)
    if values is None:
        values = private_values(frame, config, levels)
    # a disagreeing name counts against the pair unless the names are compatible after all (an
    # initial, a typo, a nickname, a swap: matching/shared.py), which the levels do not all see;
    # tested on the agreeing pairs only (the others' name weights are never read)
    could_rise = np.zeros(n, dtype=bool)
    for *_, hit in agreeing:
        could_rise[hit] = True
    # the negative field weights of those pairs only (not a copy of every pair's fields)
    rise = np.flatnonzero(could_rise)
    negative = np.minimum(fields[:, rise], 0.0)
    name_negative = negative[names].sum(axis=0)
    doubtful = np.flatnonzero(name_negative < 0)
    compat = pair_compatible(frame, cand_left[rise[doubtful]], cand_right[rise[doubtful]])
    name_negative[doubtful[compat]] = 0.0
    for c, field, column, hit in agreeing:
        at = np.searchsorted(rise, hit)  # the agreeing pairs among the rising ones
        # the other fields' negative weights, summed over the agreeing pairs' columns only
        rest = np.delete(negative[:, at], [c, *np.flatnonzero(names | handle)], axis=0).sum(axis=0)
        others = rest + name_negative[at]
        if column in values:
            _raise(floor, items, values[column], field, hit, cand_left[hit], others, limit)
    return floor, scattered(n, items)


def scattered(n: int, parts: Sequence[tuple[np.ndarray, list[str] | pl.Series]]) -> pl.Series:
    """n nulls with each part's texts written at its positions, in turn (a later part overwrites).

    The evidence items of a few hundred thousand among millions of pairs: not a Python list of
    millions of None turned into a column.
    """
    out = pl.Series(dtype=pl.String).extend_constant(None, n)
    for at, texts in parts:
        if len(at):
            out = out.scatter(pl.Series(at.astype(np.int64)), pl.Series(texts, dtype=pl.String))
    return out


def _raise(
    floor: np.ndarray, items: list[tuple[np.ndarray, list[str]]], values: PrivateValues, field: str,
    hit: np.ndarray,
    rows: np.ndarray, others: np.ndarray, limit: int,
) -> None:  # fmt: skip
    """Raise the floor of the pairs `hit` (left rows `rows`) that agree on a clean private value."""
    enc, private, holders, clean, rates = (
        values.enc,
        values.private,
        values.holders,
        values.clean,
        values.rates,
    )
    if len(private) == 0 or len(hit) == 0:
        return
    code = enc.codes[rows]
    at = np.minimum(np.searchsorted(private, code), len(private) - 1)
    ok = (private[at] == code) & clean[at]
    hit, at, others = hit[ok], at[ok], others[ok]
    if len(hit) == 0:
        return
    table = np.zeros(limit + 1)
    for k, v in rates.items():
        table[k] = v
    rate = table[holders[at].astype(np.int64)]
    bits = np.log2(rate / (1.0 - rate)) + others
    better = bits > floor[hit]
    floor[hit[better]] = bits[better]
    items.append((hit[better], _items(enc, field, private, holders, rate[better], at[better], bits[better])))


def json_quoted(values: pl.Series) -> pl.Series:
    """json.dumps of each (non-null) string, as a column: plain printable ASCII quoted by polars,
    the rest through json."""
    plain = values.str.contains(r"^[ !#-\[\]-~]*$").to_numpy()
    out = '"' + values + '"'
    odd = np.flatnonzero(~plain)
    if len(odd):
        texts = [json.dumps(v) for v in values.gather(pl.Series(odd)).to_list()]
        out = out.scatter(pl.Series(odd), pl.Series(texts, dtype=pl.String))
    return out


def json_strings(values: list[str]) -> list[str]:
    """json.dumps of each string: plain printable ASCII is quoted as is, the rest through json."""
    s = pl.Series(values, dtype=pl.String)
    plain = s.str.contains(r"^[ !#-\[\]-~]*$").to_numpy()
    quoted = ('"' + s + '"').to_list()
    return [q if ok else json.dumps(v) for q, ok, v in zip(quoted, plain, values, strict=True)]


def _items(
    enc: Encoded, field: str, private: np.ndarray, holders: np.ndarray, rate: np.ndarray, at: np.ndarray,
    bits: np.ndarray,
) -> list[str]:  # fmt: skip
    """The evidence items of the raised pairs: the bytes json.dumps gives, built once per distinct
    value, holder count and weight instead of once per pair."""
    if len(at) == 0:
        return []
    codes, code_at = np.unique(at, return_inverse=True)
    value = json_strings([str(enc.vocab[private[c]]) for c in codes.tolist()])
    # the level text depends on the holder count only (the rate is the count's)
    counts = holders[at].astype(np.int64)
    rate_of = dict(zip(counts.tolist(), rate.tolist(), strict=True))
    level = {
        k: json.dumps(f"{field} held by {k} customers only; {r:.1%} of such values are one person's")
        for k, r in rate_of.items()
    }
    weights, weight_at = np.unique(bits, return_inverse=True)
    weight = [repr(round(w, 3)) for w in weights.tolist()]
    head = '{"field": "private_value", "value_l": '
    return [
        f'{head}{value[v]}, "value_r": {value[v]}, "level": {level[k]}, "weight": {weight[w]}}}'
        for v, k, w in zip(code_at.ravel().tolist(), counts.tolist(), weight_at.ravel().tolist(), strict=True)
    ]
