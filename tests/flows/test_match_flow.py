"""The `match` flow end to end on a tiny store, under a temporary Prefect server."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.match import match_flow
from idres.settings import Settings
from ingest.pipeline import ingest_file
from store import open_store
from tests.helpers import write_csv

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "city"]
FIRSTS = ["alice", "brian", "chloe", "derek", "emma", "frank", "grace", "henry", "irene", "jack"]
LASTS = ["moss", "novak", "ortiz", "patel", "quinn", "reyes", "stone", "turner", "upton", "vance"]
CITIES = ["leeds", "york", "bath", "hull", "derby"]


def _rows() -> list[list[str]]:
    rows = [
        [
            "email",
            f"{first}.{last}{i}@mail{i % 5}.com",
            first.title(),
            last.title(),
            f"{first}.{last}{i}@mail{i % 5}.com",
            f"+4477009{i:05d}",
            CITIES[i % 5],
        ]
        for i, (first, last) in enumerate((f, ln) for f in FIRSTS for ln in LASTS)
    ]
    rows.append(["chat", "c-1", "Zoe", "Quartz", "zoe.quartz@example.com", "+447700111222", "leeds"])
    rows.append(
        [
            "email",
            "zoe.quartz@example.com",
            "Zoe",
            "Quartz",
            "zoe.quartz@example.com",
            "+447700111222",
            "leeds",
        ]
    )
    return rows


@pytest.mark.slow
def test_match_flow_full_then_incremental(tmp_path: Path, settings: Settings, prefect_harness: None) -> None:
    with open_store(settings.store) as store:
        assert ingest_file(store, write_csv(tmp_path / "ids.csv", HEADER, _rows()), settings.ingest).ok
    first = match_flow(store=str(settings.store), full=True)
    assert first["mode"] == "full" and first["suggestions_new"] >= 1
    assert first["pairs_compared"] > 0 and "total" in first["timings"]
    second = match_flow(store=str(settings.store))
    assert second["mode"] == "incremental" and second["pairs_compared"] == 0
    assert second["note"].startswith("no identities changed")
    with open_store(settings.store) as store:
        assert store.scalar("SELECT count(*) FROM match_runs") == 2
        assert store.scalar("SELECT count(*) FROM identities WHERE match_pending") == 0


def test_scheduled_runs_take_the_task_runner_from_settings() -> None:
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    from flows.match import task_runner_for
    from idres.settings import DaskSettings

    assert isinstance(task_runner_for(DaskSettings()), ThreadPoolTaskRunner)
    runner = task_runner_for(DaskSettings(address="tcp://127.0.0.1:8786"))
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://127.0.0.1:8786"
