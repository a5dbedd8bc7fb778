"""Link types: which identity pairs may be compared at all (within one source, across sources, or both).

`dedupe` compares any two identities; `link_only` only identities of different sources (the
`source_column`, by default the channel: a CRM file against the channel identities, or two
CRMs against each other), so no within-source pair is ever blocked, scored or suggested;
`link_and_dedupe` compares both kinds. A blocking rule with `different_source = true` keeps
only cross-source pairs whatever the link type.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from matching.config import MatchConfig


def source_codes(df: pl.DataFrame, config: MatchConfig) -> np.ndarray | None:
    """int64 source code per row (nulls are one source of their own), or None when sources do not matter."""
    if not config.by_source():
        return None
    column = df.get_column(config.source_column).cast(pl.String).fill_null("\x00")
    return column.rank("dense").cast(pl.Int64).to_numpy()


def cross_source(source: np.ndarray | None, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Bool per pair: the two rows come from different sources (all True without sources)."""
    if source is None:
        return np.ones(len(left), dtype=bool)
    return np.asarray(source[left] != source[right])


def comparable_pairs(customer: np.ndarray, source: np.ndarray | None, link_only: bool) -> float:
    """Identity pairs the link type allows between different customers (the prior's denominator)."""
    n = float(len(customer))
    sizes = np.unique(customer, return_counts=True)[1].astype(np.float64)
    pairs = n * (n - 1) / 2 - float((sizes * (sizes - 1) / 2).sum())
    if not link_only or source is None:
        return pairs
    # within-source pairs of different customers are not comparable: subtract them
    by_source = np.unique(source, return_counts=True)[1].astype(np.float64)
    within = float((by_source * (by_source - 1) / 2).sum())
    keys = np.unique(
        np.stack([customer.astype(np.int64), source.astype(np.int64)]), axis=1, return_counts=True
    )[1]
    within_customer = float((keys.astype(np.float64) * (keys - 1) / 2).sum())
    return max(pairs - (within - within_customer), 1.0)
