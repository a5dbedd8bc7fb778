"""`idres report`: one self-contained HTML file with plots of matching and review over time.

plotly.js is embedded in the file (no CDN), so the report opens on a machine without network.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
import polars as pl

from store import Store, match_runs
from store.views import report

TITLES = {
    "probabilities": "Match probability distribution",
    "weights": "Match weight per field and level",
    "rules_latest": "Pairs per blocking rule (latest run)",
    "rules_runs": "Pairs per blocking rule over runs",
    "backlog": "Review backlog over time",
}
_BAND_COLOURS = {"auto_approve": "#2ca02c", "review": "#ff7f0e", "related": "#7f7f7f"}


@dataclass
class ReportData:
    """Everything the report draws, read from the store in one short session."""

    store_path: str
    counts: dict[str, Any]
    probabilities: pl.DataFrame
    model_run_id: int | None
    model: dict[str, Any] | None
    rule_counts: pl.DataFrame
    backlog_by_day: pl.DataFrame
    backlog_by_run: pl.DataFrame
    apply_runs: pl.DataFrame = field(default_factory=pl.DataFrame)
    run_configs: pl.DataFrame = field(default_factory=pl.DataFrame)
    # agents' decisions as labels, in decision order (with `truly_match` when a truth was given)
    label_history: pl.DataFrame = field(default_factory=pl.DataFrame)
    labels_by_kind: dict[str, int] = field(default_factory=dict)


def collect(store: Store, truth: pl.DataFrame | None = None) -> ReportData:
    """Read what the report needs from an open store (`truth`: channel, external_id, entity_id)."""
    from reporting.learning import with_truth
    from store import labels as store_labels
    from store.views import exports

    run_id, model = match_runs.latest_model(store)
    labels = store_labels.label_history(store)
    if truth is not None:
        labels = with_truth(labels, exports.identity_keys(store), truth)
    return ReportData(
        store_path=str(store.path),
        counts=report.headline_counts(store),
        probabilities=report.suggestion_probabilities(store),
        model_run_id=run_id,
        model=model,
        rule_counts=report.rule_counts_by_run(store),
        backlog_by_day=report.review_backlog_by_day(store),
        backlog_by_run=report.review_backlog_by_run(store),
        apply_runs=report.apply_runs(store),
        run_configs=report.match_run_configs(store),
        label_history=labels,
        labels_by_kind=store_labels.counts_by_kind(store),
    )


def weights_frame(model: dict[str, Any] | None) -> pl.DataFrame:
    """comparison, level, m, u, weight (log2 m/u) of a stored model; empty without one."""
    if not model:
        return pl.DataFrame(schema={"comparison": pl.String, "level": pl.String, "weight": pl.Float64})
    from matching.model import ModelParameters

    return ModelParameters.from_dict(model).weights_table()


def name_cells_frame(model: dict[str, Any] | None) -> pl.DataFrame:
    """The stored model's name cells (matching/name_cells.py) as a table; empty without any."""
    from matching.name_cells import cells_table

    return cells_table((model or {}).get("name_cells") or {})


def _layout(fig: go.Figure, title: str, x: str, y: str) -> go.Figure:
    fig.update_layout(
        title=title, xaxis_title=x, yaxis_title=y, template="plotly_white", height=420, margin={"t": 60}
    )
    return fig


def probability_figure(frame: pl.DataFrame) -> go.Figure | None:
    """Histogram of suggestion probabilities, one colour per band."""
    if frame.is_empty():
        return None
    fig = go.Figure()
    for band in sorted(frame.get_column("band").unique().to_list()):
        values = frame.filter(pl.col("band") == band).get_column("probability").to_list()
        fig.add_trace(
            go.Histogram(
                x=values,
                name=band,
                xbins={"start": 0, "end": 1.0001, "size": 0.02},
                marker_color=_BAND_COLOURS.get(band),
            )
        )
    fig.update_layout(barmode="stack")
    return _layout(fig, TITLES["probabilities"], "match probability", "suggestions")


def weights_figure(weights: pl.DataFrame, run_id: int | None) -> go.Figure | None:
    """Horizontal bars of log2(m/u) per comparison level: how much each outcome moves a pair's score."""
    if weights.is_empty():
        return None
    fig = go.Figure()
    for comparison in weights.get_column("comparison").unique(maintain_order=True).to_list():
        part = weights.filter(pl.col("comparison") == comparison)
        fig.add_trace(
            go.Bar(
                y=[f"{comparison}: {level}" for level in part.get_column("level").to_list()],
                x=part.get_column("weight").to_list(),
                name=comparison,
                orientation="h",
            )
        )
    title = f"{TITLES['weights']} (model of match run {run_id})"
    fig = _layout(fig, title, "weight (log2 m/u)", "")
    # one row per level, read top-down in the model's order
    fig.update_layout(height=max(420, 22 * weights.height + 120), yaxis={"autorange": "reversed"})
    return fig


def rules_latest_figure(rules: pl.DataFrame) -> go.Figure | None:
    """Bars of candidate pairs per blocking rule in the latest run that compared any."""
    if rules.is_empty():
        return None
    latest = rules.filter(pl.col("run_id") == rules.get_column("run_id").max())
    fig = go.Figure(
        [
            go.Bar(x=latest["rule"].to_list(), y=latest["pairs"].to_list(), name="pairs"),
            go.Bar(
                x=latest["rule"].to_list(),
                y=latest["new_pairs"].to_list(),
                name="new pairs (not by earlier rules)",
            ),
        ]
    )
    title = f"{TITLES['rules_latest']}: run {latest['run_id'][0]}"
    return _layout(fig, title, "blocking rule", "candidate pairs")


def rules_runs_figure(rules: pl.DataFrame) -> go.Figure | None:
    """Lines of candidate pairs per blocking rule across match runs."""
    if rules.is_empty():
        return None
    fig = go.Figure()
    for rule in rules.get_column("rule").unique(maintain_order=True).to_list():
        part = rules.filter(pl.col("rule") == rule)
        fig.add_trace(
            go.Scatter(x=part["run_id"].to_list(), y=part["pairs"].to_list(), mode="lines+markers", name=rule)
        )
    fig.update_xaxes(type="category")
    return _layout(fig, TITLES["rules_runs"], "match run", "candidate pairs")


def backlog_figure(by_day: pl.DataFrame) -> go.Figure | None:
    """Suggestions pending at the end of each day, with those created and decided that day."""
    if by_day.is_empty():
        return None
    days = [str(day) for day in by_day.get_column("day").to_list()]
    fig = go.Figure(
        [
            go.Scatter(
                x=days, y=by_day["pending"].to_list(), mode="lines+markers", name="pending (end of day)"
            ),
            go.Bar(x=days, y=by_day["created"].to_list(), name="created", opacity=0.5),
            go.Bar(x=days, y=by_day["decided"].to_list(), name="decided", opacity=0.5),
        ]
    )
    return _layout(fig, TITLES["backlog"], "day", "suggestions")


def _table(columns: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _frame_table(frame: pl.DataFrame) -> str:
    return _table(frame.columns, [list(row) for row in frame.iter_rows()])


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.empty{color:#777;font-style:italic}section{margin-bottom:2em}"""


def render(data: ReportData, generated_at: datetime) -> str:
    """The whole report as one HTML document (plotly.js inlined once)."""
    weights = weights_frame(data.model)
    sections: list[tuple[str, go.Figure | None, str]] = [
        (
            TITLES["probabilities"],
            probability_figure(data.probabilities),
            "no suggestions yet: run `idres match`",
        ),
        (
            TITLES["weights"],
            weights_figure(weights, data.model_run_id),
            "no fitted model yet: run `idres match`",
        ),
        (
            TITLES["rules_latest"],
            rules_latest_figure(data.rule_counts),
            "no match run has compared pairs yet",
        ),
        (TITLES["rules_runs"], rules_runs_figure(data.rule_counts), "no match run has compared pairs yet"),
        (TITLES["backlog"], backlog_figure(data.backlog_by_day), "no suggestions yet: nothing to review"),
    ]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>idres report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>idres report</h1>",
        f"<p>store {html.escape(data.store_path)}, generated {generated_at:%Y-%m-%d %H:%M} UTC</p>",
        _table(["what", "count"], [[k, v] for k, v in data.counts.items()]),
    ]
    plotly_included = False
    for title, fig, empty in sections:
        parts.append(f"<section><h2>{html.escape(title)}</h2>")
        if fig is None:
            parts.append(f"<p class='empty'>{html.escape(empty)}</p>")
        else:
            parts.append(fig.to_html(full_html=False, include_plotlyjs=not plotly_included))
            plotly_included = True
        parts.append("</section>")
    from reporting.learning import section as learning_section

    learned, plotly_included = learning_section(
        data.model, weights, data.label_history, data.labels_by_kind, _table, plotly_included
    )
    parts.append(learned)
    if not data.backlog_by_run.is_empty():
        parts += ["<section><h2>Review backlog after each match run</h2>", _frame_table(data.backlog_by_run)]
        parts.append("</section>")
    if not weights.is_empty():
        parts += [
            "<section><h2>Model parameters</h2>",
            _frame_table(weights.with_columns(pl.selectors.float().round(4))),
        ]
        parts.append("</section>")
    cells = name_cells_frame(data.model)
    if not cells.is_empty():
        parts += [
            "<section><h2>Shared full names: how often one person</h2>",
            "<p>Pairs agreeing on a full name (or with one side's whole name in the other's handle) "
            "weigh as often as the names of their cell were one person on this data: cells by the "
            "customers holding the name and the holders its parts predict by chance, measured by EM "
            "on the pairs' other fields (README, 'Matching').</p>",
            _frame_table(cells.with_columns(pl.col("one_person").round(3))),
            "</section>",
        ]
    if not data.run_configs.is_empty():
        parts += [
            "<section><h2>Match runs and their configuration</h2>",
            "<p>config_id is a hash of the effective [match] configuration (defaults merged); "
            "`set` lists the values idres.toml or IDRES_* variables set for that run.</p>",
            _frame_table(data.run_configs),
            "</section>",
        ]
    if not data.apply_runs.is_empty():
        parts += ["<section><h2>Merge apply runs</h2>", _frame_table(data.apply_runs), "</section>"]
    parts.append("</body></html>")
    return "\n".join(parts)
