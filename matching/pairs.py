"""The scored identity pairs as a polars frame: the columns the model does not change, then its weights."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from matching.blocking import Candidates
from matching.comparisons import SHARED, Levels
from matching.config import MatchConfig
from matching.frequency import Frame
from matching.model import probability


@dataclass
class PairColumns:
    """What pairs_frame takes from the candidates and their levels alone (no model)."""

    head: dict[str, pl.Series]  # ids, customers, rule
    rows: dict[str, pl.Series]  # _row_l, _row_r
    level_columns: list[pl.Series]  # <name>_level per comparison (Enum)
    shared_hit: np.ndarray  # the pair agrees on a shared value
    household: np.ndarray  # ... of fewer than shared_min_customers customers
    shared_counts: dict[str, np.ndarray]  # per comparison with a shared level: customers per pair


def _enum(names: list[str], codes: np.ndarray) -> pl.Series:
    """Codes as an Enum column without building a Python string per row."""
    return pl.Series(names, dtype=pl.Enum(names)).gather(pl.Series(codes.astype(np.uint32)))


def pair_columns(frame: Frame, config: MatchConfig, cand: Candidates, levels: list[Levels]) -> PairColumns:
    """The model-free columns of the pairs frame (built while the model is fitted)."""
    ids = frame.df.get_column("identity_id").cast(pl.Int64).to_numpy()
    rules = [r.name for r in config.active_rules()]
    head = {
        "identity_id_l": pl.Series(ids[cand.left]),
        "identity_id_r": pl.Series(ids[cand.right]),
        "customer_id_l": pl.Series(frame.customer[cand.left]),
        "customer_id_r": pl.Series(frame.customer[cand.right]),
        "rule": _enum(rules, cand.rule),
    }
    rows = {"_row_l": pl.Series(cand.left), "_row_r": pl.Series(cand.right)}
    shared_hit = np.zeros(len(cand.left), dtype=bool)
    household = np.zeros(len(cand.left), dtype=bool)
    shared_counts: dict[str, np.ndarray] = {}
    level_columns = []
    for lv in levels:
        level_columns.append(_enum(lv.level_names, lv.levels).alias(f"{lv.name}_level"))
        if SHARED in lv.level_names and lv.shared_count is not None:
            hit = lv.levels == lv.level(SHARED)
            shared_hit |= hit
            # a value held by many customers (a switchboard, a team inbox) is one finding of its
            # own (MatchResult.shared_values), not a "related" suggestion per pair of its holders
            household |= hit & (lv.shared_count < config.shared_min_customers)
            shared_counts[lv.name] = lv.shared_count
    return PairColumns(head, rows, level_columns, shared_hit, household, shared_counts)


def pairs_frame(
    columns: PairColumns, config: MatchConfig, levels: list[Levels], fields: np.ndarray, total: np.ndarray
) -> pl.DataFrame:
    """The scored identity pairs as a polars frame (levels as Enum, weights float32)."""
    prob = probability(total)
    cols: dict[str, pl.Series] = {
        **columns.head,
        "match_weight": pl.Series(total),
        "match_probability": pl.Series(prob),
        **columns.rows,
    }
    for c, (lv, level) in enumerate(zip(levels, columns.level_columns, strict=True)):
        cols[f"{lv.name}_level"] = level
        cols[f"{lv.name}_weight"] = pl.Series(fields[c])
    related = columns.household & (prob < config.review_threshold)
    out = pl.DataFrame(cols).with_columns(
        pl.Series("related_only", related),
        pl.Series("_shared_hit", columns.shared_hit),
    )
    return out.with_columns(_related_reason(columns.shared_counts, related))


def _related_reason(shared_counts: dict[str, np.ndarray], related: np.ndarray) -> pl.Series:
    """Per pair: which shared value makes it related, null unless related_only.

    The text is formatted for the related pairs only (thousands among millions of pairs).
    """
    out = pl.Series("related_reason", dtype=pl.String).extend_constant(None, len(related))
    where = np.flatnonzero(related)
    if not shared_counts or not len(where):
        return out
    n = {f"_n_{name}": pl.Series(count[where].astype(np.int64)) for name, count in shared_counts.items()}
    reasons = [
        pl.when(pl.col(col) > 0).then(pl.format(f"shares a {name} value held by {{}} customers", pl.col(col)))
        for name, col in zip(shared_counts, n, strict=True)
    ]
    text = pl.DataFrame(n).select(pl.coalesce(reasons).cast(pl.String)).to_series()
    return out.scatter(pl.Series(where), text)
