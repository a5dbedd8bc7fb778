"""`idres status` and `idres quarantine ...`: warnings per field, human reasons, "N of M", retry and export."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.settings import Settings
from idres.cli.app import app
from ingest.pipeline import ingest_file
from store import open_store
from tests.helpers import write_csv
from tests.idres.conftest import WriteConfig

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


def test_retry_after_a_configuration_fix_loads_the_rows_and_is_audited(
    tmp_path: Path, loaded: Settings, monkeypatch: pytest.MonkeyPatch, write_config: WriteConfig
) -> None:
    write_config("[ingest.channels.pager]\n")  # the missing channel, added
    monkeypatch.setenv("IDRES_INGEST__LANDING_DIR", str(tmp_path / "landing"))
    store = str(loaded.store)
    result = runner.invoke(app, ["quarantine", "retry", "--batch", "1", "--agent", "dana", "--store", store])
    assert result.exit_code == 1, result.output  # the row without an id cannot load: said, not hidden
    assert "quarantined again" in result.stdout
    with open_store(loaded.store) as session:
        assert session.scalar("SELECT count(*) FROM identities WHERE channel = 'pager'") == 2
        left = session.rows("SELECT batch_id, reason FROM quarantine")
        audit = session.rows(
            "SELECT actor, action, details FROM audit_log WHERE action = 'quarantine_retried'"
        )
        batch = session.rows(
            "SELECT rows_read, rows_loaded, rows_quarantined FROM ingest_batches WHERE batch_id = 2"
        )
    assert left == [{"batch_id": 2, "reason": "external_id is missing"}]  # once, in the retry's batch
    assert audit[0]["actor"] == "dana" and json.loads(audit[0]["details"])["rows_loaded"] == 2
    assert batch == [{"rows_read": 3, "rows_loaded": 2, "rows_quarantined": 1}]
    assert list((tmp_path / "landing" / "processed" / "retries").rglob("identities_retry_*.jsonl"))


def test_export_then_retry_the_edited_rows(
    tmp_path: Path, loaded: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDRES_INGEST__LANDING_DIR", str(tmp_path / "landing"))
    store = str(loaded.store)
    out = tmp_path / "fix"
    exported = runner.invoke(
        app, ["quarantine", "export", "--out", str(out), "--agent", "dana", "--store", store]
    )
    assert exported.exit_code == 0, exported.output
    (path,) = out.iterdir()
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row.get("channel") for row in rows] == ["pager", "pager", "chat"]
    fixed = [
        {**row, "channel": "chat"} if row["channel"] == "pager" else {**row, "external_id": "v-9"}
        for row in rows
    ]
    path.write_text("\n".join(json.dumps(row) for row in fixed) + "\n")
    result = runner.invoke(
        app, ["quarantine", "retry", "--from", str(path), "--agent", "dana", "--store", store]
    )
    assert result.exit_code == 0, result.output
    with open_store(loaded.store) as session:
        assert session.scalar("SELECT count(*) FROM quarantine") == 0
        assert session.scalar("SELECT count(*) FROM identities WHERE channel = 'chat'") == 6
        assert session.scalar("SELECT count(*) FROM identities WHERE extra LIKE '%_quarantine_id%'") == 0
        actions = [r["action"] for r in session.rows("SELECT action FROM audit_log ORDER BY audit_id")]
    assert actions == ["quarantine_exported", "quarantine_retried"]
    again = runner.invoke(
        app, ["quarantine", "retry", "--from", str(path), "--agent", "dana", "--store", store]
    )
    assert again.exit_code == 1 and "retried already" in again.output
