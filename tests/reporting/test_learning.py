"""The report's learning section: weights before and after, labels used, quality against decisions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from domain.settings import Settings
from matching import MatchConfig, run_match
from reporting.html import collect, render, weights_frame
from reporting.learning import TITLES, WINDOW, _rolling, agreement_curves, weight_changes
from review.decisions import approve, reject
from store import Store, match_runs, utcnow
from store import labels as store_labels
from tests.reporting.builders import _rows, matched_store


def _truth() -> pl.DataFrame:
    rows = _rows()
    # an email identity and the chat identity with the same address are one person
    entity = {r[4]: f"P{i}" for i, r in enumerate(rows) if r[0] == "email"}
    return pl.DataFrame(
        {
            "channel": [r[0] for r in rows],
            "external_id": [r[1] for r in rows],
            "entity_id": [entity[r[4]] for r in rows],
        }
    )


def test_report_shows_what_learning_changed(tmp_path: Path, settings: Settings, store: Store) -> None:
    matched_store(tmp_path, settings, store)
    pending = store.rows(
        "SELECT suggestion_id FROM suggestions WHERE status = 'pending' ORDER BY suggestion_id"
    )
    assert len(pending) >= 2
    approve(store, pending[0]["suggestion_id"], "ann")
    reject(store, pending[1]["suggestion_id"], "ann")
    identities, _changed, excluded = match_runs.load_match_input(store)
    labels = store_labels.training_labels(store).drop("config_id")
    started = utcnow()
    result = run_match(identities, MatchConfig(), excluded_customer_ids=excluded, labels=labels)
    match_runs.save_match_result(
        store, result, "full", started, utcnow(), identities.get_column("identity_id")
    )
    data = collect(store, _truth())
    assert data.labels_by_kind == {"approve": 1, "reject": 1}
    assert "truly_match" in data.label_history.columns
    page = render(data, utcnow())
    assert "Learning from decisions" in page
    assert "learned from 2 labelled pairs (1 match, 1 non-match" in page
    assert TITLES["agreement"] in page and "model right (truth)" in page
    changes = weight_changes(weights_frame(data.model))
    assert set(changes.columns) == {"comparison", "level", "before", "after", "change"}
    if (changes.get_column("change") != 0).any():
        assert TITLES["weights"] in page and "Levels learning moved" in page


def test_report_without_decisions_says_so(store: Store) -> None:
    page = render(collect(store), utcnow())
    assert "no decisions yet" in page


def test_rolling_share_and_curves() -> None:
    values = np.array([1.0] * WINDOW + [0.0] * WINDOW + [np.nan])
    shares = _rolling(values)
    assert shares[0] == 1.0 and shares[WINDOW - 1] == 1.0
    assert shares[2 * WINDOW - 1] == 0.0  # the window has moved past the first half
    assert shares[-1] == 0.0  # an unknown value changes nothing
    history = pl.DataFrame(
        {
            "label_id": [1, 2, 3, 4],
            "probability": [0.9, 0.2, None, 0.7],
            "is_match": [True, True, True, False],
            "truly_match": [True, True, True, True],
        }
    )
    curves = agreement_curves(history)
    assert curves["decisions"].tolist() == [1, 2, 3]  # the unscored (manual merge) row is left out
    assert curves["model agrees with the decisions"].tolist() == [1.0, 0.5, 1 / 3]
    assert curves["decisions right (truth)"].tolist() == [1.0, 1.0, 2 / 3]
