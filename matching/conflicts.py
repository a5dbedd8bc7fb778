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
from matching.model import ModelParameters

BAND_IN = ("auto_approve", "review")


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
    weights = source_weights(config, model)
    if weights is None or suggestions.height == 0:
        return suggestions
    column, w_same, w_other = weights
    if w_same >= 0:
        return suggestions
    band = (
        suggestions.with_row_index("_i")
        .filter(pl.col("band").is_in(BAND_IN) & ~pl.col("related_only"))
        .sort(["match_weight", "customer_id_l", "customer_id_r"], descending=[True, False, False])
    )
    # only the customers the band joins (at 1M identities a few hundred thousand of them)
    joined = pl.concat([band.get_column("customer_id_l"), band.get_column("customer_id_r")]).unique()
    held = identities.select(
        pl.col("identity_id").cast(pl.Int64), pl.col("customer_id").cast(pl.Int64),
        pl.col(column).cast(pl.String).alias("_src"),
    ).filter(pl.col("customer_id").is_in(joined.cast(pl.Int64).implode()))  # fmt: skip
    # per cluster root: identities per source (a customer's own identities to start with); plain
    # dicts merged in place, the smaller into the larger (the band's walk is a Python loop: at 1M
    # identities a few hundred thousand steps)
    counts: dict[int, dict[str, int]] = {}
    per_source = held.drop_nulls("_src").group_by("customer_id", "_src").len()
    for cust, src, n in per_source.iter_rows():
        counts.setdefault(cust, {})[src] = n
    sizes = {cust: sum(held_by.values()) for cust, held_by in counts.items()}
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent.get(x, x)
        return root

    changed: dict[int, tuple[float, int, int, float]] = {}
    # whether the suggestion's own best pair is on one channel, for every band row at once
    source_of = held.select("identity_id", "_src")
    rows = (
        band.select("_i", "customer_id_l", "customer_id_r", "match_weight", "identity_id_l", "identity_id_r")
        .with_columns(pl.col("identity_id_l", "identity_id_r").cast(pl.Int64))
        .join(
            source_of.rename({"_src": "_sl"}),
            left_on="identity_id_l", right_on="identity_id", how="left", maintain_order="left",
        )
        .join(
            source_of.rename({"_src": "_sr"}),
            left_on="identity_id_r", right_on="identity_id", how="left", maintain_order="left",
        )
        .select(
            "_i", "customer_id_l", "customer_id_r", "match_weight",
            (pl.col("_sl") == pl.col("_sr")).fill_null(False).alias("_own_same"),
        )
    )  # fmt: skip
    for i, cl, cr, weight, own_same in rows.iter_rows():
        a, b = find(cl), find(cr)
        if a == b:
            continue
        ca, cb = counts.get(a), counts.get(b)
        if ca is not None and cb is not None:
            # a side without identities on any channel has no pair on one channel: nothing to weigh
            same = sum(n * cb[s] for s, n in ca.items() if s in cb)
            cross = sizes[a] * sizes[b]
            same_rest = same - int(own_same)
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
            sizes[a] += sizes.pop(b)
            del counts[b]
        elif ca is None:
            a, b = b, a  # the root that holds counts (if any) stays the root
        parent[b] = a
    if not changed:
        return suggestions
    return _lowered(suggestions, changed, config)


def _lowered(
    suggestions: pl.DataFrame, changed: dict[int, tuple[float, int, int, float]], config: MatchConfig
) -> pl.DataFrame:
    """Apply the lowered weights: probability, band and one evidence item each; drop what leaves."""
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
    upd = pl.DataFrame(
        {"_i": idx.astype(np.uint32), "_w": weight, "_p": prob, "_b": bands, "_item": items},
        schema={"_i": pl.UInt32, "_w": pl.Float64, "_p": pl.Float64, "_b": pl.String, "_item": pl.String},
    )
    out = suggestions.with_row_index("_i").join(upd, on="_i", how="left")
    hit = pl.col("_w").is_not_null()
    out = out.filter(~hit | pl.col("_b").is_not_null()).with_columns(
        pl.when(hit).then(pl.col("_p")).otherwise(pl.col("probability")).alias("probability"),
        pl.when(hit).then(pl.col("_w")).otherwise(pl.col("match_weight")).alias("match_weight"),
        pl.when(hit).then(pl.col("_b")).otherwise(pl.col("band")).alias("band"),
        # one item more in the JSON list (the hash covers the pair's values, not its cluster)
        pl.when(hit)
        .then(pl.col("evidence").str.strip_suffix("]") + pl.lit(",") + pl.col("_item") + pl.lit("]"))
        .otherwise(pl.col("evidence"))
        .str.replace(r"^\[,", "[")
        .alias("evidence"),
    )
    return out.select(suggestions.columns).sort(
        ["probability", "customer_id_l", "customer_id_r"], descending=[True, False, False]
    )
