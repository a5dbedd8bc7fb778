"""Cluster evidence from channels on names: a full name two customers hold on one channel is two people's.

A person rarely holds two identities on one channel (matching/conflicts.py). So when a full name
is held by two customers on one channel (two Facebook profiles "Maria Garcia"), at least two
people carry it, and a pair agreeing on that name is less likely one person than the name's term
frequency says: the frequency averages over names held by one person and names held by several.
On gen2-100k, pairs agreeing on the full name and nothing else scored p ~0.85 whatever the
collision, but were one person 91% of the time without one and 50% with one (of the 2,500
strangers such pairs put in the review band, 760 carried a collision).

How much a collision counts is measured on the data, not chosen: among the candidate pairs that
agree on the full name, the share of matches with a collision (a) and of non-matches (b) by EM
with the other fields' weights fixed (the pair's posterior as weight, one pseudo-count each way),
and a flagged pair gets log2(a / b) bits when that is negative, else nothing. The absence of a
collision adds nothing (the term frequency already assumes most names have one holder). Where
people do hold several identities on one channel (a CRM with duplicates: Febrl) the share among
matches is high too and the weight comes out near 0.

Data with a single channel (a CRM export: RLdata, Febrl) has every duplicate on that channel, so
nothing is flagged there (RLdata10k: the fitted -0.71 bits cost pairwise F1 0.9638 -> 0.9595).
A same-channel pair's own two identities are not a collision: on the pair's channel it takes a
third holder (their own same-channel evidence is the `source` comparison's).
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from matching.clusters import json_quoted, scattered
from matching.comparisons import Levels
from matching.config import MatchConfig
from matching.frequency import Frame
from matching.model import probability

EM_ITERATIONS = 50
PSEUDO = 1.0  # one pseudo-pair each way (Laplace): a share never seen is not 0


def name_specs(config: MatchConfig) -> tuple[int, int, str, str] | None:
    """(first comparison index, last comparison index, first column, last column), if both exist."""
    first = last = None
    for i, spec in enumerate(config.active_comparisons()):
        if spec.kind == "first_name" and first is None:
            first = (i, spec.column)
        if spec.kind == "last_name" and last is None:
            last = (i, spec.column)
    if first is None or last is None or first[1] is None or last[1] is None:
        return None
    return first[0], last[0], first[1], last[1]


def _source_column(config: MatchConfig) -> str | None:
    for spec in config.active_comparisons():
        if spec.kind == "source" and spec.column is not None:
            return spec.column
    return None


def collisions(
    frame: Frame, config: MatchConfig, levels: list[Levels], li: np.ndarray, r: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per candidate pair: (both names agree exactly, and also the full name is held by two customers
    on one channel: three on the pair's own channel when both identities are on it)."""
    none = np.zeros(len(li), dtype=bool)
    names, channel = name_specs(config), _source_column(config)
    if names is None or channel is None or len(li) == 0 or channel not in frame.df.columns:
        return none, none
    if len(frame.col(channel).vocab) < 2:
        # one channel (a CRM export): its duplicates are all on it, the premise does not hold
        return none, none
    fi, la, first_col, last_col = names
    agree = (levels[fi].levels == levels[fi].level("exact")) & (
        levels[la].levels == levels[la].level("exact")
    )
    # one side's whole name in the other (unnamed) side's email or handle: the same agreement
    handle = _handle_full(config, levels)
    if handle is not None:
        agree |= handle
    if not agree.any():
        return agree, none
    rows = frame.df.select(
        pl.col(first_col).cast(pl.String).alias("f"),
        pl.col(last_col).cast(pl.String).alias("l"),
        pl.col(channel).cast(pl.String).alias("ch"),
    ).with_columns(c=pl.Series(frame.customer), _row=pl.int_range(pl.len()))
    held = rows.drop_nulls(["f", "l", "ch"]).group_by("f", "l", "ch").agg(pl.col("c").n_unique().alias("h"))
    # per name: the busiest channel's holders and the runner-up's (a tie: the same count)
    tops = held.group_by("f", "l").agg(
        pl.col("h").max().alias("top"),
        pl.col("h").sort(descending=True).get(1, null_on_oob=True).fill_null(0).alias("second"),
    )
    # per (name, channel): holders there and on the busiest *other* channel
    held = held.join(tops, on=["f", "l"]).with_columns(
        other=pl.when(pl.col("h") < pl.col("top")).then(pl.col("top")).otherwise(pl.col("second"))
    )
    # one row of held per (name, channel): the left join keeps the rows' order
    per_row = rows.join(
        held.select("f", "l", "ch", "h", "other"), on=["f", "l", "ch"], how="left", maintain_order="left"
    )
    own = per_row.get_column("h").fill_null(0).to_numpy()
    other = per_row.get_column("other").fill_null(0).to_numpy()
    code = frame.col(channel).codes
    same = code[li] == code[r]
    # the named side (the left one unless only the right one has the name)
    named = np.where(per_row.get_column("f").is_null().to_numpy()[li], r, li)
    flag = agree & np.where(
        same, (own[named] >= 3) | (other[named] >= 2), np.maximum(own[named], other[named]) >= 2
    )
    return agree, flag


def handle_comparison(config: MatchConfig, levels: list[Levels]) -> int | None:
    """Index of the name_handle comparison (the one with a "full" level), if there is one."""
    for i, (spec, lv) in enumerate(zip(config.active_comparisons(), levels, strict=True)):
        if spec.kind == "name_handle" and "full" in lv.level_names:
            return i
    return None


def _handle_full(config: MatchConfig, levels: list[Levels]) -> np.ndarray | None:
    """Per pair: the name_handle comparison found one side's full name in the other's handle."""
    nh = handle_comparison(config, levels)
    return None if nh is None else levels[nh].levels == levels[nh].level("full")


def fit_collision_bits(total: np.ndarray, agree: np.ndarray, flag: np.ndarray) -> float:
    """log2(a / b) for flagged pairs (<= 0), by EM over the pairs agreeing on the full name.

    total: match weight of every pair (prior included, bits); a / b: the share of flagged pairs
    among matches / non-matches, weighted by the posterior with the flag counted.
    """
    w, f = total[agree], flag[agree]
    if len(w) == 0 or not f.any() or f.all():
        return 0.0
    bits = 0.0
    for _ in range(EM_ITERATIONS):
        p = probability(w + bits * f)
        a = (float((p * f).sum()) + PSEUDO) / (float(p.sum()) + 2 * PSEUDO)
        b = (float(((1 - p) * f).sum()) + PSEUDO) / (float((1 - p).sum()) + 2 * PSEUDO)
        new = min(0.0, float(np.log2(a / b)))
        if abs(new - bits) < 1e-4:
            return new
        bits = new
    return bits


def collision_items(
    frame: Frame, config: MatchConfig, li: np.ndarray, r: np.ndarray, flag: np.ndarray, bits: float
) -> pl.Series:
    """The evidence item of each flagged pair (null elsewhere), naming the named side's full name."""
    names = name_specs(config)
    hit = np.flatnonzero(flag)
    if names is None or len(hit) == 0 or bits >= 0:
        return scattered(len(li), [])
    first_names = frame.df.get_column(names[2]).cast(pl.String)
    # the named side, as collisions() takes it: the left one unless only the right one has the name
    left_unnamed = first_names.gather(pl.Series(li[hit].astype(np.int64))).is_null().to_numpy()
    rows = pl.Series(np.where(left_unnamed, r[hit], li[hit]).astype(np.int64))
    first = first_names.gather(rows).fill_null("None")  # as f"{first} {last}" writes a missing part
    last = frame.df.get_column(names[3]).cast(pl.String).gather(rows).fill_null("None")
    value = json_quoted(first + " " + last)
    level = json.dumps("full name held by two customers on one channel: at least two people carry it")
    tail = f', "level": {level}, "weight": {round(bits, 3)!r}}}'
    # the f-string of each item, written by polars (half a million items at 1M identities)
    items = pl.DataFrame({"v": value}).select(
        pl.concat_str(
            [pl.lit('{"field": "namesakes", "value_l": '), "v", pl.lit(', "value_r": '), "v", pl.lit(tail)]
        )
    )
    return scattered(len(li), [(hit, items.to_series())])
