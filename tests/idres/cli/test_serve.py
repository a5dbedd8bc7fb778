"""`idres serve` (without blocking: prefect.serve is replaced) and `idres report`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from typer.testing import CliRunner

from idres.cli.app import app

runner = CliRunner()


def test_serve_hands_the_deployments_to_prefect(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served: dict[str, Any] = {}

    def fake_serve(*deployments: Any, **kwargs: Any) -> None:
        served["deployments"] = deployments
        served["kwargs"] = kwargs

    monkeypatch.setattr("prefect.serve", fake_serve)
    monkeypatch.setenv("IDRES_SCHEDULES__MATCH", "*/3 * * * *")
    store = tmp_path / "s.duckdb"
    # with a server configured nothing is started beside the deployments
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        result = runner.invoke(app, ["serve", "--store", str(store)])
    assert result.exit_code == 0, result.output
    names = {d.name for d in served["deployments"]}
    assert {"idres-ingest", "idres-match"} <= names
    assert all(d.parameters == {"store": str(store)} for d in served["deployments"])
    assert served["kwargs"] == {"limit": 1}
    assert "match/idres-match" in result.stdout and "*/3 * * * *" in result.stdout


def test_serve_once_refuses_an_unknown_flow(tmp_path: Path) -> None:
    result = runner.invoke(app, ["serve", "--once", "exports", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2
    assert "unknown flow 'exports'" in result.output and "apply_merges" in result.output


@pytest.mark.slow
def test_serve_once_runs_one_flow(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDRES_INGEST__LANDING_DIR", str(tmp_path / "landing"))
    result = runner.invoke(
        app, ["serve", "--once", "ingest", "--store", str(tmp_path / "s.duckdb"), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"ingest": []}  # the landing folder is empty
