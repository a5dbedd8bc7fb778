"""Approved and applied suggestions are never touched by later match runs, whatever changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.settings import Settings
from matching import MatchConfig, ModelParameters, run_match
from store import Store, match_runs, utcnow
from tests.store.test_suggestions import PAIR, _filler, _ingest, _run, _zoe


@pytest.fixture
def loaded(tmp_path: Path, settings: Settings, store: Store) -> Store:
    _ingest(tmp_path, settings, store, [*_filler(), *PAIR], "first.csv")
    return store


def _row(store: Store, suggestion_id: int) -> dict[str, Any]:
    return store.rows("SELECT * FROM suggestions WHERE suggestion_id = ?", [suggestion_id])[0]


def _run_with_model(store: Store, settings: Settings, model: ModelParameters) -> dict[str, Any]:
    """A full run scored with the given model (as a changed configuration or refit would give)."""
    started = utcnow()
    identities, _changed, excluded = match_runs.load_match_input(store)
    result = run_match(identities, MatchConfig.from_settings(settings.match), model=model,
                       excluded_customer_ids=excluded)  # fmt: skip
    return match_runs.save_match_result(store, result, "full", started, utcnow(),
                                scored_ids=identities.get_column("identity_id"),
                                identities_total=identities.height)  # fmt: skip


@pytest.mark.parametrize("status", ["approved", "applied"])
def test_decided_suggestion_survives_reruns_new_evidence_and_a_model_change(
    tmp_path: Path, loaded: Store, settings: Settings, status: str
) -> None:
    _run(loaded, settings, full=True)
    sid = int(_zoe(loaded)["suggestion_id"])
    loaded.execute(
        "UPDATE suggestions SET status = ?, decided_by = 'agent-1', decided_at = ? WHERE suggestion_id = ?",
        [status, utcnow(), sid],
    )
    before = _row(loaded, sid)
    # a plain re-run, then new evidence on one side (its hash changes), incremental and full
    _run(loaded, settings, full=True)
    _ingest(tmp_path, settings, loaded, [[*PAIR[1][:5], "+447700111222", "leeds"]], "second.csv")
    _counts, pairs = _run(loaded, settings, full=False)
    assert pairs.height > 0  # the pair was scored again ...
    _run(loaded, settings, full=True)
    # ... and a model change: every weight differs, so every pending pair's probability moves
    model = ModelParameters.from_dict(match_runs.latest_model(loaded).model or {})
    model.lambda_ = min(model.lambda_ * 1000, 0.5)
    changed = _run_with_model(loaded, settings, model)
    assert changed["suggestions_updated"] + changed["suggestions_unchanged_decided"] >= 1
    assert _row(loaded, sid) == before  # ... yet the decided row is byte for byte what it was
    assert (
        loaded.scalar(
            "SELECT count(*) FROM suggestions WHERE customer_id_l = ? AND customer_id_r = ?",
            [before["customer_id_l"], before["customer_id_r"]],
        )
        == 1
    )
