"""How often a shared full name is one person, measured on the data's own pairs.

A pair agreeing on the whole name is weighed by the name's term frequency: its u is the share of
strangers expected to share it. Whether the other holders of a name are strangers or the same
person's other identities, frequencies cannot say, and data sets disagree: on the project's
generator one person holds up to ten identities under one name (gen1-100k: pairs agreeing on
the full name and nothing else were one person 85% of the time at a mean p of 0.77), on the
independent one names follow countries and strangers share them (gen2-1m: 85% at p 0.93, and a
name five customers hold with parts rarer than its count, 57-85% at p 0.88-0.99). The same
frequencies, opposite errors.

So the name's evidence is measured instead of assumed. The pairs agreeing exactly on first and
last name (and, as a second kind, those whose one side's whole name is in the other, unnamed
side's email local part or handle: name_handle "full") fall into cells by the customers holding
the name (2, 3, ... 13-20) and by how many holders its parts predict by chance (p(first) p(last)
named identities, in powers of two). Per cell, EM finds the share of one-person pairs that the
pairs' *other* fields explain (the name's weight and the prior left out; an email, a phone, a
date of birth that agree or differ), and each pair of the cell gets that share as its prior odds
plus its other fields' weight. Pairs with nothing but the name get the cell's share, which runs
low for them (0.06-0.10 below their true share per cell on average, gen1 and gen2 at 100k and
1M): pairs with other evidence are more often two people, because one person's identities are
rarely on one channel and so rarely hold the same kinds of value, while strangers' do as often as
any two identities. It errs towards precision. Correcting it (the cell's share from the checkable
pairs' share and the chance that strangers' pairs are checkable, given field presence) came
within 0.01-0.07 of the truth at 100k and raised cluster F1 (gen2-100k 0.596 -> 0.612, gen2-1m
0.417 -> 0.431) but took gen2-1m's cluster precision below 0.95 (0.952 -> 0.945): not done.

A cell with few pairs to learn from keeps its own mean probability (CELL_PSEUDO pseudo-pairs at
the model's mean), and names more than MAX_CELL_HOLDERS customers hold are left alone: the name
blocking rules skip such blocks, so their candidate pairs come from the contact rules and are no
sample of the name's holders. The cells' odds are fitted with the model and stored with it, so an
incremental run scores as a full one.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from matching.comparisons import Levels
from matching.config import MatchConfig
from matching.frequency import Frame, distinct_inverse
from matching.model import ModelParameters, probability
from matching.names import full_name_holders
from matching.namesakes import handle_comparison, name_specs

EM_ITERATIONS = 100
# a cell's own mean probability weighs as much as this many pairs with other evidence: a cell of
# a 10k data set with a handful of such pairs keeps the frequency model's estimate
CELL_PSEUDO = 20.0
# the name-only blocking rules' block cap (matching/config.py, max_block_size of those rules)
MAX_CELL_HOLDERS = 20
HOLDER_EDGES = (2, 3, 4, 5, 6, 7, 9, 13, MAX_CELL_HOLDERS + 1)
EXPECTED_LOG2 = (-8, 3)  # chance holders per cell: 2^-8 or fewer ... 2^3 or more
# shares are kept off 0 and 1 only as far as float64 odds need: a tighter clip would raise a cell
# whose pairs all score below it (a small frame's prior is -50 bits)
SHARE_FLOOR = 1e-15


E_SPAN = EXPECTED_LOG2[1] - EXPECTED_LOG2[0] + 1
N_CELLS = (len(HOLDER_EDGES) - 1) * E_SPAN
# where the two agree: both names (first and last exact), or one side's whole name in the other,
# unnamed side's email local part or handle (name_handle "full"), which weighs differently
KINDS = ("", "handle ")


def _label(code: int) -> str:
    """A cell code's stored name: "holders:log2 expected" ("5:-3": 5 holders, 2^-3 expected by
    chance), "handle 5:-3" for a name found in a handle."""
    kind, rest = divmod(code, N_CELLS)
    h, e = divmod(rest, E_SPAN)
    return f"{KINDS[kind]}{HOLDER_EDGES[h]}:{e + EXPECTED_LOG2[0]}"


LABELS = [_label(c) for c in range(len(KINDS) * N_CELLS)]


def _cells_of(frame: Frame, first_col: str, last_col: str, rows: np.ndarray) -> np.ndarray:
    """Per row: the cell of its full name (holders x chance holders), -1 without one or above the cap."""
    holders = full_name_holders(frame, first_col, last_col)[rows]
    joint = frame.joint(sorted([first_col, last_col]))
    first, last = joint[first_col], joint[last_col]
    # over every row, not the codes: a focused frame (an incremental run) reads other rows as missing
    named = float(
        frame.df.select(pl.col(first_col).is_not_null() & pl.col(last_col).is_not_null()).to_series().sum()
    )
    cf, cl = first.codes[rows], last.codes[rows]
    ok = (cf >= 0) & (cl >= 0) & (holders >= 2) & (holders <= MAX_CELL_HOLDERS)  # nan compares False
    expected = first.tf(np.maximum(cf, 0)) * last.tf(np.maximum(cl, 0)) * named
    low, high = EXPECTED_LOG2
    e = np.clip(np.floor(np.log2(np.maximum(expected, 1e-300))), low, high).astype(np.int64) - low
    h = np.searchsorted(HOLDER_EDGES, np.where(ok, holders, 2), side="right") - 1
    return np.where(ok, h * E_SPAN + e, -1)


def name_cells(
    frame: Frame, config: MatchConfig, levels: list[Levels], left: np.ndarray, right: np.ndarray
) -> np.ndarray:
    """Per candidate pair: the cell code (an index of LABELS) of its full-name agreement, -1 elsewhere."""
    out = np.full(len(left), -1, dtype=np.int64)
    names = name_specs(config)
    if names is None or len(left) == 0:
        return out
    fi, la, first_col, last_col = names
    agree = (levels[fi].levels == levels[fi].level("exact")) & (
        levels[la].levels == levels[la].level("exact")
    )
    at = np.flatnonzero(agree)
    rows = left[at]
    nh = handle_comparison(config, levels)
    at_handle = np.zeros(0, dtype=np.int64)
    if nh is not None:
        at_handle = np.flatnonzero(levels[nh].levels == levels[nh].level("full"))
        # the named side: the left one unless only the right one has a first name
        unnamed = frame.df.get_column(first_col).is_null().to_numpy()
        rows = np.concatenate([rows, np.where(unnamed[left[at_handle]], right[at_handle], left[at_handle])])
    if not len(rows):
        return out
    code = _cells_of(frame, first_col, last_col, rows)  # both kinds at once: one pass over the frame
    out[at] = code[: len(at)]
    handle = code[len(at) :]
    out[at_handle] = np.where(handle >= 0, handle + N_CELLS, -1)
    return out


def fit_cell_odds(total: np.ndarray, name_bits: np.ndarray, cells: np.ndarray) -> dict[str, float]:
    """Per cell label: log2 odds that a pair of it is one person, by EM with the other fields' weights fixed.

    total: each pair's match weight (bits, prior included); name_bits: its first- and last-name
    weights plus the prior, the part the cell's odds replace.
    """
    at = np.flatnonzero(cells >= 0)
    if not len(at):
        return {}
    present, cell = np.unique(cells[at], return_inverse=True)  # ~100 cells: small
    other = total[at] - name_bits[at]
    count = np.bincount(cell, minlength=len(present)).astype(np.float64)
    own = np.bincount(cell, weights=probability(total[at]), minlength=len(present)) / count
    own = np.clip(own, SHARE_FLOOR, 1 - SHARE_FLOOR)
    share = own.copy()
    # a pair's posterior depends on its cell and its other fields' weight only: 761k pairs hold
    # 6.5k distinct (cell, weight) on gen2-1m, each computed once and gathered to its pairs
    weights, weight_of = distinct_inverse(other.view(np.int64))
    combo, combo_of = distinct_inverse(cell * len(weights) + weight_of)
    combo_cell, combo_other = combo // len(weights), weights.view(np.float64)[combo % len(weights)]
    for _ in range(EM_ITERATIONS):
        post = probability(np.log2(share / (1 - share))[combo_cell] + combo_other)[combo_of]
        new = (np.bincount(cell, weights=post, minlength=len(present)) + CELL_PSEUDO * own) / (
            count + CELL_PSEUDO
        )
        new = np.clip(new, SHARE_FLOOR, 1 - SHARE_FLOOR)
        done = float(np.abs(new - share).max()) < 1e-7
        share = new
        if done:
            break
    return {LABELS[int(c)]: float(np.log2(s / (1 - s))) for c, s in zip(present, share, strict=True)}


def calibrate_full_names(
    frame: Frame,
    config: MatchConfig,
    levels: list[Levels],
    model: ModelParameters,
    fields: np.ndarray,
    total: np.ndarray,
    left: np.ndarray,
    right: np.ndarray,
    fit: bool,
    cells: np.ndarray | None = None,
) -> np.ndarray:
    """total with each full-name agreement weighed by its cell's measured odds (fitted into the model
    when `fit`); the difference goes to the agreement's own weights in `fields` (first and last name
    half each, or the name-in-handle weight), so the fields still add up to the match weight.

    `cells`: name_cells of these pairs, when already computed (it needs no model)."""
    names = name_specs(config)
    if names is None or len(left) == 0:
        return total
    fi, la = names[0], names[1]
    nh = handle_comparison(config, levels)
    if cells is None:
        cells = name_cells(frame, config, levels, left, right)
    handle = cells >= N_CELLS
    name_bits = np.where(handle, 0.0, fields[fi].astype(np.float64) + fields[la])
    if nh is not None:
        name_bits = np.where(handle, fields[nh].astype(np.float64), name_bits)
    name_bits = name_bits + model.prior_bits(frame.n)
    if fit:
        model.name_cells = fit_cell_odds(total, name_bits, cells)
    table = np.array([model.name_cells.get(label, np.nan) for label in LABELS])
    at = np.flatnonzero(cells >= 0)
    at = at[~np.isnan(table[cells[at]])]
    if not len(at):
        return total
    # agents' decisions still move these pairs: the label shifts (matching/learning.py) of the
    # agreement's own levels and of the prior stay on top of the cell's odds
    params = model.comparisons
    shift = np.full(len(at), model.prior_shift)
    by_handle = handle[at]
    for c in (fi, la):
        shift[~by_handle] += params[c].shifts()[levels[c].levels[at[~by_handle]]]
    if nh is not None:
        shift[by_handle] += params[nh].shifts()[levels[nh].levels[at[by_handle]]]
    delta = table[cells[at]] + shift - name_bits[at]
    out = total.copy()
    out[at] = total[at] + delta
    two, one = at[~by_handle], at[by_handle]
    fields[fi, two] += (delta[~by_handle] / 2).astype(np.float32)
    fields[la, two] += (delta[~by_handle] / 2).astype(np.float32)
    if nh is not None:
        fields[nh, one] += delta[by_handle].astype(np.float32)
    return out


def cells_table(odds: dict[str, float]) -> pl.DataFrame:
    """A model's name cells for reading: kind, holders, chance holders (2^k), share one person."""
    rows = []
    for label, value in odds.items():
        kind, _, cell = label.rpartition(" ")
        holders, expected = cell.split(":")
        rows.append(
            (kind or "full name", int(holders), f"2^{expected}", float(probability(np.array([value]))[0]))
        )
    frame = pl.DataFrame(
        rows, schema={"agreement": pl.String, "holders": pl.Int64, "chance_holders": pl.String, "one_person": pl.Float64},
        orient="row",
    )  # fmt: skip
    return frame.sort("agreement", "holders", pl.col("chance_holders").str.slice(2).cast(pl.Int64))
