"""`idres status` and `idres quarantine ...`: warnings per field, human reasons, "N of M", retry and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idres.cli import app
from idres.settings import Settings
from ingest.pipeline import ingest_file
from store import open_store
from tests.helpers import write_csv

runner = CliRunner()
HEADER = ["channel", "external_id", "first_name", "email", "birth_date"]


def _ingest(settings: Settings, path: Path) -> None:
    with open_store(settings.store) as store:
        ingest_file(store, path, settings.ingest)


@pytest.fixture
def loaded(tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A store with one CRM-like file: 3 good rows, 2 bad optional values, 3 rows that cannot be identities."""
    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(settings.ingest.data_docs_dir))
    rows = [
        ["chat", "v-1", "Ann", "ann@example.com", "1980-02-01"],
        ["chat", "v-2", "Eugene", "eugenef@orange.f", ""],  # mistyped email: loaded, a warning
        ["chat", "v-3", "Bo", "", "35"],  # unparseable birth date: loaded, a warning
        ["pager", "p-1", "Cy", "", ""],
        ["pager", "p-2", "Di", "", ""],
        ["chat", "", "Ed", "", ""],
    ]
    _ingest(settings, write_csv(tmp_path / "identities.csv", HEADER, rows))
    return settings


def test_bad_optional_values_are_loaded_and_shown_as_warnings_in_status(loaded: Settings) -> None:
    store = str(loaded.store)
    data = json.loads(runner.invoke(app, ["status", "--store", store, "--format", "json"]).stdout)
    assert data["counts"]["identities"] == 3
    assert data["recent_batches"][0]["warnings"] == {"email": 1, "birth_date": 1}
    assert {(w["field"], w["rows"]) for w in data["warnings_by_field"]} == {("email", 1), ("birth_date", 1)}
    reasons = {q["reason"]: q["rows"] for q in data["quarantine_by_reason"]}
    assert reasons == {"channel is not a configured channel": 2, "external_id is missing": 1}
    text = runner.invoke(app, ["status", "--store", store]).stdout
    assert "bad optional value" in text and "birth_date" in text
    assert "channel is not a configured channel" in text


def test_quarantine_list_says_how_many_of_how_many(loaded: Settings) -> None:
    result = runner.invoke(app, ["quarantine", "list", "--store", str(loaded.store), "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert "2 of 3 quarantined row(s)" in result.stdout
    everything = runner.invoke(app, ["quarantine", "list", "--store", str(loaded.store)])
    assert "3 of 3 quarantined row(s)" in everything.stdout
