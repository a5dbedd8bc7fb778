"""Quality against a truth mapping (identity_id -> entity id): pairwise and cluster-level scores.

Pure polars/numpy. Pairwise recall counts every true pair in the truth, found by blocking or
not. Cluster scores take connected components of the pairs at or above a threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl


def _truth(truth: pl.DataFrame) -> pl.DataFrame:
    cols = truth.columns
    return truth.select(pl.col(cols[0]).cast(pl.Int64).alias("identity_id"), pl.col(cols[1]).alias("entity"))


def true_pair_count(truth: pl.DataFrame) -> int:
    """Number of identity pairs that belong to the same entity."""
    sizes = _truth(truth).group_by("entity").len().get_column("len").to_numpy().astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def label_pairs(pairs: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """pairs (identity_id_l, identity_id_r, ...) with a boolean `is_match` from the truth."""
    t = _truth(truth)
    return (
        pairs.join(
            t.rename({"identity_id": "identity_id_l", "entity": "_el"}), on="identity_id_l", how="left"
        )
        .join(t.rename({"identity_id": "identity_id_r", "entity": "_er"}), on="identity_id_r", how="left")
        .with_columns((pl.col("_el") == pl.col("_er")).fill_null(False).alias("is_match"))
        .drop("_el", "_er")
    )


def _prf(tp: float, predicted: float, actual: float) -> dict[str, float]:
    p = tp / predicted if predicted else 0.0
    r = tp / actual if actual else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def pairwise_scores(
    pairs: pl.DataFrame, truth: pl.DataFrame, threshold: float, score: str = "match_probability"
) -> dict[str, float]:
    """Precision / recall / F1 of identity pairs with score >= threshold."""
    lab = label_pairs(pairs.filter(pl.col(score) >= threshold), truth)
    out = _prf(float(lab.get_column("is_match").sum()), lab.height, true_pair_count(truth))
    return {"threshold": threshold, **out}


def threshold_sweep(
    pairs: pl.DataFrame,
    truth: pl.DataFrame,
    thresholds: list[float] | None = None,
    score: str = "match_probability",
) -> pl.DataFrame:
    """Pairwise precision/recall/F1 at each threshold; the best F1 is `sweep.sort('f1').tail(1)`."""
    grid = thresholds or [round(x, 3) for x in np.linspace(0.05, 0.995, 39)]
    lab = label_pairs(pairs.select("identity_id_l", "identity_id_r", score), truth)
    scores = lab.get_column(score).to_numpy()
    match = lab.get_column("is_match").to_numpy()
    actual = true_pair_count(truth)
    rows = []
    for t in grid:
        sel = scores >= t
        rows.append({"threshold": t, **_prf(float(match[sel].sum()), float(sel.sum()), actual)})
    return pl.DataFrame(rows)


# probability bands of the reliability table: the review band split finer, where agents act
CALIBRATION_EDGES = (0.0, 0.05, 0.2, 0.5, 0.8, 0.9, 0.95, 0.99, 1.0)


def calibration(
    pairs: pl.DataFrame,
    truth: pl.DataFrame,
    edges: tuple[float, ...] = CALIBRATION_EDGES,
    score: str = "match_probability",
) -> dict[str, Any]:
    """Reliability of scored pairs' probabilities: per band, the mean probability beside the share that is true.

    Calibrated probabilities have the two equal in every band. `expected_calibration_error` is
    the pair-weighted mean gap over the bands, `brier` the mean squared error of the
    probabilities. Only scored pairs count: a true pair that was never compared has no
    probability to be calibrated (it counts against recall instead).
    """
    lab = label_pairs(pairs.select("identity_id_l", "identity_id_r", score), truth)
    prob = lab.get_column(score).cast(pl.Float64).to_numpy()
    true = lab.get_column("is_match").to_numpy().astype(np.float64)
    # band i holds edges[i] <= p < edges[i+1]; the last band also holds p == 1
    band = np.clip(np.searchsorted(np.asarray(edges), prob, side="right") - 1, 0, len(edges) - 2)
    bands, gap_sum = [], 0.0
    for i in range(len(edges) - 1):
        sel = band == i
        n = int(sel.sum())
        if n == 0:
            continue
        mean_p, observed = float(prob[sel].mean()), float(true[sel].mean())
        gap_sum += n * abs(mean_p - observed)
        bands.append(
            {
                "from": edges[i],
                "to": edges[i + 1],
                "pairs": n,
                "mean_probability": mean_p,
                "true_share": observed,
            }
        )
    total = len(prob)
    return {
        "pairs": total,
        "expected_calibration_error": gap_sum / total if total else 0.0,
        "brier": float(((prob - true) ** 2).mean()) if total else 0.0,
        "bands": bands,
    }


def components(nodes: np.ndarray, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected-component label (smallest node index) per node index 0..n-1, by label propagation."""
    labels = np.arange(len(nodes), dtype=np.int64)
    if len(left) == 0:
        return labels
    while True:
        low = np.minimum(labels[left], labels[right])
        before = labels.copy()
        np.minimum.at(labels, left, low)
        np.minimum.at(labels, right, low)
        labels = labels[labels]  # pointer jumping: halves chain lengths each round
        if np.array_equal(labels, before):
            return labels


def clusters_from_pairs(
    identity_ids: pl.Series, pairs: pl.DataFrame, threshold: float, score: str = "match_probability"
) -> pl.DataFrame:
    """identity_id -> cluster (connected components of identity pairs with score >= threshold)."""
    ids = identity_ids.cast(pl.Int64).unique().sort()
    index = pl.DataFrame({"identity_id": ids, "i": np.arange(len(ids), dtype=np.int64)})
    kept = pairs.filter(pl.col(score) >= threshold).select("identity_id_l", "identity_id_r")
    kept = kept.join(index.rename({"identity_id": "identity_id_l", "i": "a"}), on="identity_id_l").join(
        index.rename({"identity_id": "identity_id_r", "i": "b"}), on="identity_id_r"
    )
    labels = components(ids.to_numpy(), kept.get_column("a").to_numpy(), kept.get_column("b").to_numpy())
    return pl.DataFrame({"identity_id": ids, "cluster": labels})


def cluster_scores(clusters: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """B-cubed and pairwise-cluster precision/recall/F1 of identity_id -> cluster against the truth."""
    t = _truth(truth)
    c = clusters.select(
        pl.col(clusters.columns[0]).cast(pl.Int64).alias("identity_id"),
        pl.col(clusters.columns[1]).alias("cluster"),
    )
    # an identity in no cluster is a singleton: a label of its own, unlike every real one (labels
    # compared as text, so numeric and string cluster ids both work)
    both = t.join(
        c.with_columns(pl.col("cluster").cast(pl.String)), on="identity_id", how="left"
    ).with_columns(
        pl.col("cluster").fill_null(pl.lit("\x00singleton-") + pl.int_range(pl.len()).cast(pl.String))
    )
    # ni and nj as window sums over the same frame: a join would not keep the rows in nij's order
    cells = (
        both.group_by("cluster", "entity")
        .len()
        .with_columns(
            pl.col("len").sum().over("cluster").alias("ni"), pl.col("len").sum().over("entity").alias("nj")
        )
    )
    nij = cells.get_column("len").to_numpy().astype(np.float64)
    ni = cells.get_column("ni").to_numpy().astype(np.float64)
    nj = cells.get_column("nj").to_numpy().astype(np.float64)
    n = nij.sum()
    bp, br = float((nij**2 / ni).sum() / n), float((nij**2 / nj).sum() / n)
    sizes_i = (
        cells.group_by("cluster").agg(pl.col("len").sum()).get_column("len").to_numpy().astype(np.float64)
    )
    sizes_j = (
        cells.group_by("entity").agg(pl.col("len").sum()).get_column("len").to_numpy().astype(np.float64)
    )
    pw = _prf(
        float((nij * (nij - 1) / 2).sum()),
        float((sizes_i * (sizes_i - 1) / 2).sum()),
        float((sizes_j * (sizes_j - 1) / 2).sum()),
    )
    return {
        "bcubed_precision": bp,
        "bcubed_recall": br,
        "bcubed_f1": 2 * bp * br / (bp + br) if bp + br else 0.0,
        "pair_precision": pw["precision"],
        "pair_recall": pw["recall"],
        "pair_f1": pw["f1"],
    }


def suggestion_clusters(
    identities: pl.DataFrame, suggestions: pl.DataFrame, threshold: float
) -> pl.DataFrame:
    """identity_id -> cluster after merging customer pairs with probability >= threshold (not related-only)."""
    cust = identities.select(pl.col("identity_id").cast(pl.Int64), pl.col("customer_id").cast(pl.Int64))
    edges = suggestions.filter((pl.col("probability") >= threshold) & ~pl.col("related_only"))
    edges = edges.select(
        pl.col("customer_id_l").alias("identity_id_l"),
        pl.col("customer_id_r").alias("identity_id_r"),
        "probability",
    )
    groups = clusters_from_pairs(cust.get_column("customer_id"), edges, threshold, score="probability")
    return cust.join(groups.rename({"identity_id": "customer_id"}), on="customer_id").select(
        "identity_id", "cluster"
    )
