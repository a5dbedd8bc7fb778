"""Cluster evidence from channels: approving a suggestion joins two whole customers' clusters.

A person rarely holds two identities on one channel (gen2-100k's truth: 0.6% of a person's
channels, gen1 5%). The `source` comparison (comparisons.compare_source) measures that on the
data: EM's m of its `same_source` level is the share of matching identity pairs on one channel,
u the share of random pairs (gen2-100k: m 0.016, u 0.14, -3.2 bits; gen1-100k: m 0.033, -2.1).
A suggestion's own best identity pair carries that weight, but approving it merges every
identity of the two clusters it joins: every cross pair of identities is then one person's. So
the review band is walked as approvals would chain it, strongest first (union-find over
customers), and each suggestion that joins two clusters adds the channel evidence of the cross
pairs other than its own best pair (Fellegi-Sunter over independent pairs: same_source's weight
per pair on one channel, other_source's per pair on two). Where that is negative the suggestion's
weight and probability are lowered; one that falls below the review threshold leaves the band
(to `possible`, or out) and joins nothing, so later links see the clusters as agents would.
Only lowering: a cluster without a shared channel keeps its suggestions' scores.
Review band, before -> after (the comparison and this step): gen2-100k cluster precision
0.852 -> 0.898, cluster F1 0.589 -> 0.592; gen2-10k 0.960 -> 0.978, 0.626 -> 0.626; gen1-100k
0.961 -> 0.969, 0.381 -> 0.378 (of the links it takes out of the band there 77% were true, on
gen2-100k 41%); the public sets unchanged or better (RLdata10k F1 0.963 -> 0.964).
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from matching.config import MatchConfig
from matching.frequency import dense_codes
from matching.model import ModelParameters

BAND_IN = ("auto_approve", "review")
CUSTOMER_ENDS = ("customer_id_l", "customer_id_r")


def source_weights(config: MatchConfig, model: ModelParameters) -> tuple[str, float, float] | None:
    """(column, same_source bits, other_source bits) of the active source comparison, if any."""
    params = model.by_name()
    for spec in config.active_comparisons():
        if spec.kind == "source" and spec.column is not None and spec.name in params:
            p = params[spec.name]
            bits = p.log2_bf()
            return (
                spec.column,
                float(bits[p.levels.index("same_source")]),
                float(bits[p.levels.index("other_source")]),
            )
    return None


def _band(p: float, old: str, config: MatchConfig) -> str | None:
    """The band of a lowered probability (None: no longer a suggestion)."""
    auto = config.auto_approve_threshold
    if p >= config.review_threshold:
        return "auto_approve" if old == "auto_approve" and auto is not None and p >= auto else "review"
    if config.possible_floor is not None and p >= config.possible_floor:
        return "possible"
    return None


def channel_conflicts(
    suggestions: pl.DataFrame, identities: pl.DataFrame, config: MatchConfig, model: ModelParameters
) -> pl.DataFrame:
    """The suggestions with those that chain identities of one channel into a cluster lowered."""
    return lowered(suggestions, conflict_changes(suggestions, identities, config, model), config)


def conflict_changes(
    suggestions: pl.DataFrame, identities: pl.DataFrame, config: MatchConfig, model: ModelParameters
) -> dict[int, tuple[float, int, int, float]]:
    """Per suggestion row to lower: (new weight, pairs on one channel, pairs across, old weight).

    Reads neither evidence column (the walk runs while the evidence is built).
    """
    weights = source_weights(config, model)
    if weights is None or suggestions.height == 0:
        return {}
    column, w_same, w_other = weights
    if w_same >= 0:
        return {}
    band = (
        suggestions.with_row_index("_i")
        .filter(pl.col("band").is_in(BAND_IN) & ~pl.col("related_only"))
        .sort(["match_weight", "customer_id_l", "customer_id_r"], descending=[True, False, False])
    )
    # the customers the band joins (at 1M identities a few hundred thousand of them) as dense
    # indices 0..k-1: the walk below reads plain lists, not dicts keyed by customer id
    ends = np.concatenate([band.get_column(c).cast(pl.Int64).to_numpy() for c in CUSTOMER_ENDS])
    joined, dense = np.unique(ends, return_inverse=True)
    held = identities.select(
        pl.col("identity_id").cast(pl.Int64), pl.col("customer_id").cast(pl.Int64),
        pl.col(column).cast(pl.String).alias("_src"),
    ).filter(pl.col("customer_id").is_in(pl.Series(joined).implode()))  # fmt: skip
    codes, vocab = dense_codes(held.get_column("_src"))
    on = codes >= 0
    cust = np.searchsorted(joined, held.get_column("customer_id").to_numpy()[on])
    # per customer: identities per channel code, a bit per channel held, identities on any channel
    # (customers with none have no pair on one channel: counts stay None)
    width = max(len(vocab), 1)
    pair_key, n_held = np.unique(cust * width + codes[on], return_counts=True)
    counts: list[dict[int, int] | None] = [None] * len(joined)
    masks = [0] * len(joined)
    per_channel = zip((pair_key // width).tolist(), (pair_key % width).tolist(), n_held.tolist(), strict=True)
    for c, s, n in per_channel:
        held_by = counts[c]
        if held_by is None:
            counts[c] = {s: n}
        else:
            held_by[s] = n
        masks[c] |= 1 << s
    sizes = np.bincount(cust, minlength=len(joined)).tolist()
    parent = list(range(len(joined)))

    def find(x: int) -> int:
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    changed: dict[int, tuple[float, int, int, float]] = {}
    # whether the suggestion's own best pair is on one channel, for every band row at once
    source_of = held.select("identity_id", "_src")
    own_same = (
        band.select(pl.col("identity_id_l", "identity_id_r").cast(pl.Int64))
        .join(
            source_of.rename({"_src": "_sl"}),
            left_on="identity_id_l", right_on="identity_id", how="left", maintain_order="left",
        )
        .join(
            source_of.rename({"_src": "_sr"}),
            left_on="identity_id_r", right_on="identity_id", how="left", maintain_order="left",
        )
        .select((pl.col("_sl") == pl.col("_sr")).fill_null(False))
        .to_series()
    )  # fmt: skip
    k = band.height
    rows = zip(
        band.get_column("_i").to_list(), dense[:k].tolist(), dense[k:].tolist(),
        band.get_column("match_weight").to_list(), own_same.to_list(), strict=True,
    )  # fmt: skip
    for i, a, b, weight, own in rows:
        a = a if parent[a] == a else find(a)  # most customers are still their own root
        b = b if parent[b] == b else find(b)
        if a == b:
            continue
        ca, cb = counts[a], counts[b]
        if ca is not None and cb is not None:
            # a side without identities on any channel has no pair on one channel: nothing to weigh;
            # nor has a pair of clusters without a channel in common (no bit shared: no sum to take)
            if masks[a] & masks[b]:
                small, large = (ca, cb) if len(ca) <= len(cb) else (cb, ca)
                same = sum(n * large[s] for s, n in small.items() if s in large)
                cross = sizes[a] * sizes[b]
                same_rest = same - int(own)
                other_rest = max(cross - 1 - same_rest, 0)
                extra = same_rest * w_same + other_rest * w_other
                if same_rest > 0 and extra < 0:
                    changed[i] = (weight + extra, same_rest, cross, weight)
                    if 1.0 / (1.0 + 2.0 ** -(weight + extra)) < config.review_threshold:
                        continue  # out of the band: it joins nothing
            if sizes[a] < sizes[b]:
                a, b, ca, cb = b, a, cb, ca
            for s, n in cb.items():
                ca[s] = ca.get(s, 0) + n
            sizes[a] += sizes[b]
            masks[a] |= masks[b]
            counts[b] = None
        elif ca is None:
            a, b = b, a  # the root that holds counts (if any) stays the root
        parent[b] = a
    return changed


def lowered(
    suggestions: pl.DataFrame, changed: dict[int, tuple[float, int, int, float]], config: MatchConfig
) -> pl.DataFrame:
    """Apply conflict_changes: probability, band and one evidence item each; drop what leaves."""
    if not changed:
        return suggestions
    idx = np.fromiter(changed, dtype=np.int64)
    weight = np.array([changed[i][0] for i in idx])
    prob = 1.0 / (1.0 + np.exp2(-np.clip(weight, -200, 200)))
    old = suggestions.get_column("band").gather(pl.Series(idx)).to_list()
    bands = [_band(float(p), o, config) for p, o in zip(prob, old, strict=True)]
    items = [
        json.dumps(
            {
                "field": "cluster_channels",
                "value_l": None,
                "value_r": None,
                "level": f"approving joins {changed[i][1]} more identity pair(s) on one channel "
                f"(of {changed[i][2]} across the two clusters)",
                "weight": round(float(w - changed[int(i)][3]), 3),
            }
        )
        for i, w in zip(idx, weight, strict=True)
    ]
    # written into the changed rows only: a join of every suggestion and string operations on every
    # evidence list cost 0.27 s at 1M identities for a few thousand changed rows
    rows = pl.Series(idx)
    evidence = suggestions.get_column("evidence").gather(rows)
    # one item more in the JSON list (the hash covers the pair's values, not its cluster)
    added = (evidence.str.strip_suffix("]") + "," + pl.Series(items, dtype=pl.String) + "]").str.replace(
        r"^\[,", "["
    )
    out = suggestions.with_columns(
        _scattered(suggestions, "probability", rows, pl.Series(prob)),
        _scattered(suggestions, "match_weight", rows, pl.Series(weight)),
        _scattered(suggestions, "band", rows, pl.Series(bands, dtype=pl.String)),
        _scattered(suggestions, "evidence", rows, added),
    )
    keep = np.ones(out.height, dtype=bool)
    keep[idx[np.array([b is None for b in bands], dtype=bool)]] = False  # left every band
    return out.filter(pl.Series(keep)).sort(
        ["probability", "customer_id_l", "customer_id_r"], descending=[True, False, False]
    )


def _scattered(df: pl.DataFrame, column: str, rows: pl.Series, values: pl.Series) -> pl.Series:
    """df's column (a copy) with values written at rows."""
    return df.get_column(column).clone().scatter(rows, values)
