"""The offline HTML report: built from a small matched store and from an empty one."""

from __future__ import annotations

import re
from pathlib import Path

from domain.settings import Settings
from reporting.html import TITLES, collect, name_cells_frame, render, weights_frame
from store import Store, utcnow
from store.views import report
from tests.reporting.builders import matched_store


def _no_remote_scripts(page: str) -> None:
    assert not re.search(r"<script[^>]+src=[\"']?https?://", page, re.IGNORECASE)


def test_report_of_a_matched_store_has_every_plot(tmp_path: Path, settings: Settings, store: Store) -> None:
    summary = matched_store(tmp_path, settings, store)
    data = collect(store)
    page = render(data, utcnow())
    for title in TITLES.values():
        assert title in page
    assert "no suggestions yet" not in page and "no fitted model yet" not in page
    assert page.count("Plotly.newPlot") == 5
    # plotly.js is inlined once (a few MB), never fetched
    assert page.count("/*! For license information please see plotly") <= 1 and len(page) > 1_000_000
    _no_remote_scripts(page)
    assert data.counts["suggestions rejected"] == 1
    assert data.probabilities.height == summary["suggestions_new"]
    assert set(data.rule_counts.get_column("run_id").to_list()) == {summary["run_id"]}
    # the weights come from the stored model: one bar per comparison level
    weights = weights_frame(data.model)
    assert weights.height > 0 and {"comparison", "level", "weight"} <= set(weights.columns)


def test_backlog_counts_pending_and_decided(tmp_path: Path, settings: Settings, store: Store) -> None:
    matched_store(tmp_path, settings, store)
    total = store.scalar("SELECT count(*) FROM suggestions WHERE NOT related_only")
    by_day = report.review_backlog_by_day(store)
    assert by_day.height == 1  # everything happened today
    assert by_day["created"][0] == total and by_day["decided"][0] == 1
    assert by_day["pending"][0] == total - 1
    by_run = report.review_backlog_by_run(store)
    # the rejection came after the run finished: right after the run every suggestion was pending
    assert by_run["pending"].to_list() == [total] and by_run["decided"].to_list() == [0]


def test_report_of_an_empty_store(store: Store) -> None:
    page = render(collect(store), utcnow())
    for title in TITLES.values():
        assert title in page
    assert "no suggestions yet" in page and "no fitted model yet" in page
    assert "Plotly.newPlot" not in page
    _no_remote_scripts(page)


def test_apply_runs_are_listed_when_there_are_some(store: Store) -> None:
    with store.transaction():
        store.execute(
            "INSERT INTO merge_runs VALUES (1, 'apply-merges', 'succeeded', ?, ?, 3, 2, 1, 0, '{}')",
            [utcnow(), utcnow()],
        )
    data = collect(store)
    assert data.apply_runs.to_dicts()[0]["merges_applied"] == 2
    page = render(data, utcnow())
    assert "Merge apply runs" in page and "apply-merges" in page


def test_the_name_cells_are_listed_with_their_share_of_one_person() -> None:
    model = {"name_cells": {"2:-3": 3.0, "handle 5:0": -1.0, "5:-8": 0.0}}
    cells = name_cells_frame(model)
    assert cells.rows() == [
        ("full name", 2, "2^-3", 8 / 9),
        ("full name", 5, "2^-8", 0.5),
        ("handle", 5, "2^0", 1 / 3),
    ]
    assert name_cells_frame(None).is_empty()
