"""The match flow on a local two-worker Dask cluster gives exactly the suggestions of a local run."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from domain.settings import Settings
from flows.match import match_flow_on
from ingest.pipeline import ingest_file
from store import open_store
from tests.flows.test_match_flow import HEADER, _rows
from tests.helpers import write_csv

_COLUMNS = """suggestion_id, customer_id_l, customer_id_r, identity_id_l, identity_id_r, round(probability, 9) AS p,
    band, related_only, reason, rule, CAST(evidence AS VARCHAR) AS evidence, evidence_hash, status"""


def _suggestions(path: Path) -> list[dict[str, Any]]:
    with open_store(path) as store:
        return store.rows(f"SELECT {_COLUMNS} FROM suggestions ORDER BY suggestion_id")


@pytest.mark.slow
def test_dask_run_equals_local_run(
    tmp_path: Path, settings: Settings, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distributed import LocalCluster

    monkeypatch.setenv("IDRES_DASK__PARTITIONS", "3")  # few tasks: each costs a Prefect task run

    with open_store(settings.store) as store:
        assert ingest_file(store, write_csv(tmp_path / "ids.csv", HEADER, _rows()), settings.ingest).ok
    copy = tmp_path / "copy.duckdb"
    shutil.copy(settings.store, copy)
    local = match_flow_on(None)(store=str(settings.store), full=True)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        on_dask = match_flow_on(cluster.scheduler_address)(store=str(copy), full=True)
        # every partition's score task went through the scheduler
        keys = {str(entry[0]) for entry in cluster.scheduler.transition_log}
        assert sum("score_task" in key for key in keys) == 3, sorted(keys)[:5]
    assert local["pairs_compared"] == on_dask["pairs_compared"] > 0
    expected = _suggestions(settings.store)
    assert len(expected) >= 1 and any(row["band"] == "review" for row in expected)
    assert _suggestions(copy) == expected


def test_match_command_rejects_an_address_that_is_not_a_scheduler(settings: Settings) -> None:
    from typer.testing import CliRunner

    from idres.cli.app import app  # registers every command, `match` included

    result = CliRunner().invoke(
        app, ["match", "--dask-address", "localhost:8786", "--store", str(settings.store)]
    )
    assert result.exit_code != 0
    assert "not a scheduler address" in result.output
