"""The report's "Learning from decisions" section: how the model changed after learning, the labels it
used, and quality against decisions over time (against a truth when one is given, else the labels'
agreement with the model)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import plotly.graph_objects as go
import polars as pl

WINDOW = 50  # decisions per point of the rolling curves: enough for a share to mean something

TITLES = {
    "weights": "Weights before and after learning, per field and level",
    "agreement": "Quality against decisions over time",
}


def weight_changes(weights: pl.DataFrame) -> pl.DataFrame:
    """comparison, level, before (unsupervised), after (learned), change; per field and level."""
    if weights.is_empty() or "weight_unsupervised" not in weights.columns:
        return pl.DataFrame(schema={"comparison": pl.String, "level": pl.String, "before": pl.Float64,
                                    "after": pl.Float64, "change": pl.Float64})  # fmt: skip
    return weights.select(
        "comparison",
        "level",
        pl.col("weight_unsupervised").round(3).alias("before"),
        pl.col("weight").round(3).alias("after"),
        (pl.col("weight") - pl.col("weight_unsupervised")).round(3).alias("change"),
    )


def field_changes(changes: pl.DataFrame) -> pl.DataFrame:
    """Per field: the largest change of any of its levels (bits), and of which level."""
    if changes.is_empty():
        return changes
    return (
        changes.with_columns(pl.col("change").abs().alias("_abs"))
        .sort("_abs", descending=True)
        .group_by("comparison", maintain_order=True)
        .agg(
            pl.col("level").first().alias("level_moved_most"),
            pl.col("change").first().alias("largest_change"),
        )
    )


def weights_figure(changes: pl.DataFrame) -> go.Figure | None:
    """Grouped bars: each level's weight before and after learning."""
    if changes.is_empty() or not (changes.get_column("change") != 0).any():
        return None
    labels = [f"{c}: {lv}" for c, lv in zip(changes["comparison"], changes["level"], strict=True)]
    fig = go.Figure(
        [
            go.Bar(y=labels, x=changes["before"].to_list(), name="before (unsupervised)", orientation="h"),
            go.Bar(y=labels, x=changes["after"].to_list(), name="after learning", orientation="h"),
        ]
    )
    fig.update_layout(
        title=TITLES["weights"], xaxis_title="weight (log2 m/u + shift)", template="plotly_white",
        height=max(420, 22 * changes.height + 120), yaxis={"autorange": "reversed"}, barmode="group",
    )  # fmt: skip
    return fig


def with_truth(history: pl.DataFrame, keys: pl.DataFrame, truth: pl.DataFrame) -> pl.DataFrame:
    """Label history with `truly_match` from a truth file (channel, external_id, entity_id); null when unknown."""
    entity = keys.join(truth, on=["channel", "external_id"], how="inner").select("identity_id", "entity_id")
    return (
        history.join(entity.rename({"identity_id": "identity_id_l", "entity_id": "_el"}), on="identity_id_l",
                     how="left")
        .join(entity.rename({"identity_id": "identity_id_r", "entity_id": "_er"}), on="identity_id_r", how="left")
        .with_columns((pl.col("_el") == pl.col("_er")).alias("truly_match"))
        .drop("_el", "_er")
        .sort("label_id")
    )  # fmt: skip


def _rolling(values: np.ndarray) -> np.ndarray:
    """Share of True over the last WINDOW values (fewer at the start), NaN where none is known."""
    known = ~np.isnan(values)
    hits = np.cumsum(np.where(known, values, 0.0))
    counts = np.cumsum(known)
    lag = np.concatenate([np.zeros(WINDOW), hits])[: len(hits)]
    lag_counts = np.concatenate([np.zeros(WINDOW), counts])[: len(counts)]
    n = counts - lag_counts
    return np.where(n > 0, (hits - lag) / np.maximum(n, 1), np.nan)


def agreement_curves(history: pl.DataFrame) -> dict[str, np.ndarray]:
    """Rolling shares against the number of decisions: model (at decision time) vs the decisions, and,
    with a truth, the model and the decisions against the truth."""
    # decisions on suggestions carry the model's probability then (one row each); a manual merge's
    # pairs were never scored
    scored = history.filter(pl.col("probability").is_not_null()).sort("label_id")
    if scored.is_empty():
        return {}
    said = (scored.get_column("probability").to_numpy() >= 0.5).astype(np.float64)
    decided = scored.get_column("is_match").to_numpy().astype(np.float64)
    out = {"decisions": np.arange(1, scored.height + 1), "model agrees with the decisions": _rolling(
        (said == decided).astype(np.float64))}  # fmt: skip
    if "truly_match" in scored.columns:
        truth = scored.get_column("truly_match").to_numpy().astype(np.float64)  # NaN where unknown
        out["model right (truth)"] = _rolling(
            np.where(np.isnan(truth), np.nan, (said == truth).astype(float))
        )
        out["decisions right (truth)"] = _rolling(
            np.where(np.isnan(truth), np.nan, (decided == truth).astype(float))
        )
    return out


def agreement_figure(curves: dict[str, np.ndarray]) -> go.Figure | None:
    """Lines of the rolling shares against the number of decisions."""
    if not curves:
        return None
    x = curves["decisions"].tolist()
    fig = go.Figure(
        [
            go.Scatter(x=x, y=[None if np.isnan(v) else float(v) for v in values], mode="lines", name=name)
            for name, values in curves.items()
            if name != "decisions"
        ]
    )
    fig.update_layout(
        title=f"{TITLES['agreement']} (share over the last {WINDOW} decisions)", xaxis_title="decisions",
        yaxis_title="share", yaxis={"range": [0, 1.02]}, template="plotly_white", height=420,
    )  # fmt: skip
    return fig


def section(
    model: dict[str, Any] | None,
    weights: pl.DataFrame,
    history: pl.DataFrame,
    by_kind: dict[str, int],
    table: Any,
    plotly_included: bool,
) -> tuple[str, bool]:
    """The section's HTML (and whether plotly.js is now included)."""
    summary = (model or {}).get("labels") or {}
    parts = ["<section><h2>Learning from decisions</h2>"]
    if not summary and history.is_empty():
        parts.append(
            "<p class='empty'>no decisions yet: approvals, rejections, manual merges and undos become "
            "labels the next match run learns from</p></section>"
        )
        return "\n".join(parts), plotly_included
    decided = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in by_kind.items()) or "none"
    if summary:
        parts.append(
            f"<p>The latest model learned from {summary.get('labels', 0)} labelled pairs "
            f"({summary.get('matches', 0)} match, {summary.get('non_matches', 0)} non-match; "
            f"{summary.get('contradicted', 0)} contradicted by the rest and discounted; "
            f"{summary.get('not_usable', 0)} not usable); prior moved by "
            f"{summary.get('prior_shift_bits', 0.0):+.2f} bits. Agreement of the model with the labels "
            f"before learning {summary.get('agreement_before', 0.0):.3f}, after "
            f"{summary.get('agreement_after', 0.0):.3f}. Decisions recorded: {html.escape(decided)}.</p>"
        )
    else:
        parts.append(
            f"<p>Decisions recorded: {html.escape(decided)}; the latest match run learned from none "
            "(run `idres match --full` to learn from them).</p>"
        )
    changes = weight_changes(weights)
    for fig in (weights_figure(changes), agreement_figure(agreement_curves(history))):
        if fig is not None:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=not plotly_included))
            plotly_included = True
    if not changes.is_empty():
        fields = field_changes(changes)
        parts += [
            "<h3>Largest change per field (bits)</h3>",
            table(fields.columns, [list(r) for r in fields.iter_rows()]),
        ]
        moved = changes.filter(pl.col("change") != 0)
        if not moved.is_empty():
            parts += [
                "<h3>Levels learning moved</h3>",
                table(moved.columns, [list(r) for r in moved.iter_rows()]),
            ]
    parts.append("</section>")
    return "\n".join(parts), plotly_included
