"""The `apply-merges` flow end to end on a tiny store, under a temporary Prefect server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from domain.settings import Settings
from flows.apply_merges import apply_merges_flow, outcome_rows
from store import open_store
from tests.review.test_merging import approve, reject, world_template  # noqa: F401  (fixture)


@pytest.mark.slow
def test_apply_merges_flow_applies_holds_and_publishes(
    world_template: Path,  # noqa: F811
    settings: Settings,
    prefect_harness: None,
) -> None:
    shutil.copyfile(world_template, settings.store)
    with open_store(settings.store) as store:
        reject(store, 1, 5)
        approve(store, 1, 2)
        held = approve(store, 2, 5)
    report = apply_merges_flow(store=str(settings.store))
    assert (report["merges_applied"], report["held_back"]) == (1, 1)
    assert report["held_suggestions"][0]["suggestion_id"] == held
    with open_store(settings.store) as store:
        assert store.scalar("SELECT count(*) FROM merges") == 1
        assert store.scalar("SELECT actor FROM merge_runs") == "apply-merges"
    from prefect.artifacts import Artifact

    artifact = Artifact.get("apply-merges-summary")
    assert "1 merges applied, 1 held back" in str(getattr(artifact, "data", None))
    again = apply_merges_flow(store=str(settings.store))
    assert again["merges_applied"] == 0 and again["held_back"] == 1


def test_outcome_rows_cover_every_outcome() -> None:
    report = {
        "merges": [
            {"suggestion_id": 1, "merge_id": 7, "survivor_id": 1, "absorbed_id": 2, "identities_moved": 3}
        ],
        "held_suggestions": [
            {"suggestion_id": 2, "customer_id_l": 1, "customer_id_r": 5, "reason": "locked"}
        ],
        "superseded_suggestions": [
            {"suggestion_id": 3, "customer_id_l": 3, "customer_id_r": 4, "reason": "gone"}
        ],
        "already_joined": [4],
    }
    rows = outcome_rows(report)
    assert [r["outcome"] for r in rows] == ["applied", "held back", "superseded", "already joined"]
    assert rows[0]["reason"] == "3 identities moved" and rows[1]["reason"] == "locked"
