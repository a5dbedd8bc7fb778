"""The `match` flow end to end on a tiny store, under a temporary Prefect server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.settings import Settings
from flows.match import match_flow
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

    from domain.settings import DaskSettings
    from flows.match import task_runner_for

    assert isinstance(task_runner_for(DaskSettings()), ThreadPoolTaskRunner)
    runner = task_runner_for(DaskSettings(address="tcp://127.0.0.1:8786"))
    assert isinstance(runner, DaskTaskRunner) and runner.address == "tcp://127.0.0.1:8786"


def test_importing_the_flow_reads_no_settings(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    # a configuration that cannot be read: reading it at import (as before) fails the import
    env = {**os.environ, "IDRES_CONFIG": str(tmp_path / "missing.toml")}
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", "import flows.match; print(type(flows.match.match_flow.task_runner).__name__)"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ThreadPoolTaskRunner"


@pytest.mark.slow
def test_a_run_with_a_dask_address_in_its_settings_scores_there(
    settings: Settings, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a scheduled run loads `match_flow` (threads) and finds `[dask] address` in its settings
    import flows.match as module
    from domain.settings import DaskSettings

    handed: list[tuple[str | None, dict]] = []

    def on(address: str | None):  # type: ignore[no-untyped-def]
        return lambda **parameters: handed.append((address, parameters)) or {"on": address}

    monkeypatch.setattr(module, "match_flow_on", on)
    configured = settings.model_copy(update={"dask": DaskSettings(address="tcp://127.0.0.1:8786")})
    assert match_flow(settings=configured, full=True) == {"on": "tcp://127.0.0.1:8786"}
    assert handed[0][1]["settings"] is configured and handed[0][1]["full"] is True


@pytest.mark.slow
def test_extra_dates_and_addresses_through_the_store(
    tmp_path: Path, settings: Settings, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # extra attributes arrive from the store as text: dates in several formats, addresses in any case
    header = [*HEADER, "customer_since", "home"]
    rows = [
        [*row, f"2019-{1 + i % 12:02d}-{1 + i % 28:02d}", f"{i} Filler Lane"] for i, row in enumerate(_rows())
    ]
    rows[-2][-2:] = ["05/01/2020", "12 Stanley St."]  # Zoe on chat
    rows[-1][-2:] = ["2020-01-05", "12 STANLEY STREET"]  # Zoe by email
    config = tmp_path / "idres.toml"
    config.write_text(
        """[match]
comparisons = [
  { name = "customer_since", kind = "date", column = "customer_since" },
  { name = "home", kind = "address", column = "home" },
]
""",
        encoding="utf-8",
    )
    monkeypatch.setenv("IDRES_CONFIG", str(config))
    with open_store(settings.store) as store:
        assert ingest_file(store, write_csv(tmp_path / "ids.csv", header, rows), settings.ingest).ok
    summary = match_flow(store=str(settings.store), full=True)
    assert summary["config_id"]
    with open_store(settings.store) as store:
        evidence = store.scalar(
            """SELECT CAST(s.evidence AS VARCHAR) FROM suggestions s
            JOIN identities i ON i.identity_id = s.identity_id_l WHERE i.last_name = 'Quartz'"""
        )
        recorded = store.scalar("SELECT CAST(config AS VARCHAR) FROM match_runs")
    levels = {item["field"]: item["level"] for item in json.loads(evidence)}
    assert levels["customer_since"] == "exact" and levels["home"] == "exact"
    assert '"match.comparisons": "file"' in recorded


@pytest.mark.slow
def test_a_misspelt_column_stops_the_run_listing_available_columns(
    tmp_path: Path, settings: Settings, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.match import MatchConfigurationError

    config = tmp_path / "idres.toml"
    config.write_text(
        '[match]\nblocking_rules = [{ name = "dob", on = ["birth_date_nrom"] }]\n', encoding="utf-8"
    )
    monkeypatch.setenv("IDRES_CONFIG", str(config))
    with open_store(settings.store) as store:
        assert ingest_file(store, write_csv(tmp_path / "ids.csv", HEADER, _rows()), settings.ingest).ok
    with pytest.raises(MatchConfigurationError) as error:
        match_flow(store=str(settings.store), full=True)
    assert "blocking rule 'dob' reads column 'birth_date_nrom'" in str(error.value)
    assert "did you mean 'birth_date_norm'?" in str(error.value) and "available columns" in str(error.value)
    with open_store(settings.store) as store:
        assert store.scalar("SELECT count(*) FROM suggestions") == 0


@pytest.mark.slow
def test_match_flow_learns_from_decisions_and_says_so(
    tmp_path: Path, settings: Settings, prefect_harness: None
) -> None:
    from review.decisions import reject

    with open_store(settings.store) as store:
        assert ingest_file(store, write_csv(tmp_path / "ids.csv", HEADER, _rows()), settings.ingest).ok
    first = match_flow(store=str(settings.store), full=True)
    assert first["labels"] == {} and not any("learned from" in n for n in first["notes"])
    with open_store(settings.store) as store:
        sid = store.scalar("SELECT min(suggestion_id) FROM suggestions")
        reject(store, sid, "alice")
    again = match_flow(store=str(settings.store), full=True)
    assert again["labels"]["labels"] == 1 and again["labels"]["non_matches"] == 1
    assert any("learned from 1 labelled pairs" in n for n in again["notes"])
    with open_store(settings.store) as store:
        model = json.loads(store.scalar("SELECT model FROM match_runs ORDER BY run_id DESC LIMIT 1"))
    assert model["labels"]["labels"] == 1


def test_stored_levels_count_only_under_the_configuration_they_were_scored_with() -> None:
    import polars as pl

    from flows.match import labels_for_run

    labels = pl.DataFrame(
        {
            "identity_id_l": [1, 3, 5],
            "identity_id_r": [2, 4, 6],
            "is_match": [True, False, True],
            "weight": [1.0, 1.0, 1.0],
            "levels": ['{"email": "exact"}', '{"email": "exact"}', None],
            "config_id": ["cfg-a", "cfg-b", None],
        }
    )
    out = labels_for_run(labels, "cfg-a")
    assert out is not None and "config_id" not in out.columns
    assert out.get_column("levels").to_list() == ['{"email": "exact"}', None, None]
    assert out.height == 3  # none thrown away: the engine compares the others again
    assert labels_for_run(labels.head(0), "cfg-a") is None
