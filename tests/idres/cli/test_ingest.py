"""The `idres` read commands and ingest through the Prefect flow, driven as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idres.cli.app import app
from tests.helpers import write_csv

runner = CliRunner()
HEADER = ["channel", "external_id", "first_name", "last_name", "email"]


def _ingest(tmp_path: Path, store: Path, rows: list[list[str]]) -> object:
    path = write_csv(tmp_path / "identities.csv", HEADER, rows)
    return runner.invoke(app, ["ingest", str(path), "--store", str(store), "--format", "json"])


@pytest.mark.slow
def test_ingest_status_show_and_quarantine(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(tmp_path / "docs"))
    store = tmp_path / "store.duckdb"
    result = _ingest(
        tmp_path,
        store,
        [["email", "ann@example.com", "Ann", "Lee", "ann@example.com"], ["pager", "1", "Bo", "", ""]],
    )
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert reports[0]["rows_loaded"] == 1 and reports[0]["rows_quarantined"] == 1

    status = json.loads(runner.invoke(app, ["status", "--store", str(store), "--format", "json"]).stdout)
    assert status["counts"]["identities"] == 1 and status["counts"]["quarantine"] == 1

    shown = json.loads(
        runner.invoke(app, ["customer", "show", "1", "--store", str(store), "--format", "json"]).stdout
    )
    assert shown["identities"][0]["external_id"] == "ann@example.com"

    quarantined = json.loads(
        runner.invoke(app, ["quarantine", "list", "--store", str(store), "--format", "json"]).stdout
    )
    assert json.loads(quarantined[0]["raw_row"])["channel"] == "pager"

    monkeypatch.setenv("COLUMNS", "250")  # a wide terminal, so the note is not folded
    again = runner.invoke(app, ["ingest", str(tmp_path / "identities.csv"), "--store", str(store)])
    assert again.exit_code == 0 and "already ingested" in again.stdout


@pytest.mark.slow
def test_ingest_of_a_bad_file_exits_non_zero(tmp_path: Path, prefect_harness: None) -> None:
    bad = tmp_path / "identities.csv"
    bad.write_bytes(b"")
    result = runner.invoke(app, ["ingest", str(bad), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 1
    assert "empty" in result.output
