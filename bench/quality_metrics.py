"""Metrics of bench/quality_bench.py: one scorecard per tool, and the exact-key baseline.

Every record of the truth counts: one a tool never saw (quarantined, not ingested) is a
singleton cluster with no pairs, so its true pairs are misses. Records are `rid` (Int64) in
all frames. Pairwise and cluster helpers are matching/evaluate.py's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from matching.evaluate import (
    calibration,
    cluster_scores,
    components,
    label_pairs,
    pairwise_scores,
    true_pair_count,
)

SWEEP = [round(x, 2) for x in np.arange(0.01, 1.0, 0.01)]


def best_threshold(pairs: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """The threshold of the 0.01..0.99 grid with the highest pairwise F1, and the scores there."""
    if pairs.height == 0:
        return {"threshold": float("nan"), "precision": 0.0, "recall": 0.0, "f1": 0.0}
    lab = label_pairs(pairs.select("identity_id_l", "identity_id_r", "match_probability"), truth)
    scores = lab.get_column("match_probability").to_numpy()
    match = lab.get_column("is_match").to_numpy()
    actual = true_pair_count(truth)
    best = {"threshold": float("nan"), "precision": 0.0, "recall": 0.0, "f1": -1.0}
    for t in SWEEP:
        sel = scores >= t
        tp, predicted = float(match[sel].sum()), float(sel.sum())
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        if f1 >= best["f1"]:  # ties: the highest threshold, the one a reviewer would set
            best = {"threshold": t, "precision": p, "recall": r, "f1": f1}
    return best


def scorecard(
    pairs: pl.DataFrame | None, clusters: pl.DataFrame, truth: pl.DataFrame, threshold: float
) -> dict[str, Any]:
    """Pairwise P/R/F1 at `threshold`, best-F1 threshold, cluster pair P/R/F1 and B-cubed F1.

    pairs: identity_id_l, identity_id_r, match_probability (rids); None for a tool that only
    clusters (the exact-key baseline: its pairwise scores are its cluster's). clusters:
    identity_id (rid) -> cluster for the tool's clustering (the review band approved).
    """
    cs = cluster_scores(clusters, truth)
    out: dict[str, Any] = {
        "cluster_precision": cs["pair_precision"],
        "cluster_recall": cs["pair_recall"],
        "cluster_f1": cs["pair_f1"],
        "bcubed_f1": cs["bcubed_f1"],
    }
    if pairs is None:
        out.update(precision=cs["pair_precision"], recall=cs["pair_recall"], f1=cs["pair_f1"])
        out.update(best_threshold=None, best_f1=None)
    else:
        pw = pairwise_scores(pairs, truth, threshold)
        best = best_threshold(pairs, truth)
        out.update(precision=pw["precision"], recall=pw["recall"], f1=pw["f1"])
        out.update(best_threshold=best["threshold"], best_f1=best["f1"])
        # calibrated probabilities put the best-F1 threshold at half the best F1 (Lipton, Elkan and
        # Narayanaswamy 2014, "Optimal thresholding of classifiers to maximize F1"): the threshold
        # a calibrated tool would show here, beside the one it shows
        out.update(calibrated_best_threshold=best["f1"] / 2)
        reliability = calibration(pairs, truth)
        out.update(
            ece=reliability["expected_calibration_error"],
            brier=reliability["brier"],
            calibration_bands=[
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in band.items()}
                for band in reliability["bands"]
            ],
        )
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def key_expressions(columns: list[str]) -> list[pl.Expr]:
    """Naive exact keys from the columns present: folded email, last 9 phone digits, full name, handle.

    `first_name_key`/`last_name_key` are folded names; the first name is replaced by its
    nickname family's formal name (matching.nicknames) so "Bob Smith" keys as "robert smith".
    Extra identifier columns (`soc_sec_id`) are exact keys too.
    """
    from matching.nicknames import canonical_names

    formal = canonical_names()
    keys: list[pl.Expr] = []
    if "email_key" in columns:
        keys.append(pl.col("email_key").alias("k_email"))
    if "phone" in columns:
        digits = pl.col("phone").str.replace_all(r"\D", "")
        keys.append(pl.when(digits.str.len_chars() >= 9).then(digits.str.slice(-9)).alias("k_phone"))
    if {"first_name_key", "last_name_key"} <= set(columns):
        first = pl.col("first_name_key").replace(formal)
        keys.append(pl.concat_str([first, pl.col("last_name_key")], separator=" ").alias("k_name"))
    if "screen_name_norm" in columns:
        keys.append(pl.col("screen_name_norm").alias("k_handle"))
    if "soc_sec_id" in columns:
        keys.append(pl.col("soc_sec_id").alias("k_ssn"))
    return keys


def exact_key_clusters(records: pl.DataFrame) -> pl.DataFrame:
    """rid -> cluster: connected components of records sharing any non-empty exact key value."""
    keyed = records.select("rid", *key_expressions(records.columns))
    rids = keyed.get_column("rid").to_numpy()
    index = {"rid": rids, "i": np.arange(len(rids), dtype=np.int64)}
    position = pl.DataFrame(index)
    left_parts, right_parts = [], []
    for column in keyed.columns[1:]:
        # a star from the first record holding each value to every other holder
        star = (
            keyed.select("rid", column)
            .filter(pl.col(column).is_not_null() & (pl.col(column) != ""))
            .join(position, on="rid")
            .with_columns(pl.col("i").min().over(column).alias("hub"))
            .filter(pl.col("i") != pl.col("hub"))
        )
        left_parts.append(star.get_column("hub").to_numpy())
        right_parts.append(star.get_column("i").to_numpy())
    left = np.concatenate(left_parts) if left_parts else np.empty(0, dtype=np.int64)
    right = np.concatenate(right_parts) if right_parts else np.empty(0, dtype=np.int64)
    labels = components(rids, left, right)
    return pl.DataFrame({"identity_id": rids, "cluster": labels})


def recall_by_shared_key(
    records: pl.DataFrame, truth: pl.DataFrame, clusterings: dict[str, pl.DataFrame]
) -> dict[str, dict[str, float]]:
    """Of the true pairs, grouped by which exact keys the two records share, the share each tool clusters together.

    Groups: "<key> only" (email, phone, name, handle, ssn), "several keys", "no shared key". It
    tells which evidence a tool fails to use: a pair sharing only a phone that a tool misses is a
    phone problem, not a name problem.
    """
    keyed = records.select(pl.col("rid").alias("identity_id"), *key_expressions(records.columns))
    keys = keyed.columns[1:]
    t = truth.select(
        pl.col(truth.columns[0]).cast(pl.Int64).alias("identity_id"), pl.col(truth.columns[1]).alias("e")
    )
    pairs = (
        t.join(t, on="e", suffix="_r")
        .filter(pl.col("identity_id") < pl.col("identity_id_r"))
        .join(keyed, on="identity_id", how="left")
        .join(keyed, left_on="identity_id_r", right_on="identity_id", how="left", suffix="_r")
    )
    shared = [(pl.col(k) == pl.col(f"{k}_r")).fill_null(False).alias(k) for k in keys]
    pairs = pairs.with_columns(shared).with_columns(pl.sum_horizontal(keys).alias("n_shared"))
    label = pl.when(pl.col("n_shared") == 0).then(pl.lit("no shared key"))
    label = label.when(pl.col("n_shared") > 1).then(pl.lit("several keys"))
    for k in keys:
        label = label.when(pl.col(k)).then(pl.lit(f"{k.removeprefix('k_')} only"))
    pairs = pairs.select("identity_id", "identity_id_r", label.alias("group"))
    for tool, clusters in clusterings.items():
        c = clusters.select(
            pl.col(clusters.columns[0]).cast(pl.Int64).alias("identity_id"),
            pl.col(clusters.columns[1]).cast(pl.String).alias("c"),
        )
        pairs = (
            pairs.join(c, on="identity_id", how="left")
            .join(c, left_on="identity_id_r", right_on="identity_id", how="left", suffix="_r")
            .with_columns((pl.col("c") == pl.col("c_r")).fill_null(False).alias(tool))
            .drop("c", "c_r")
        )
    summary = pairs.group_by("group").agg(pl.len().alias("pairs"), *[pl.col(t).mean() for t in clusterings])
    return {
        row["group"]: {
            k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "group"
        }
        for row in summary.sort("pairs", descending=True).iter_rows(named=True)
    }
