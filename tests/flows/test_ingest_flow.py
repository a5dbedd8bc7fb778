"""The `ingest` Prefect flow on a landing folder: files are loaded, then moved out, never lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.ingest import ingest_flow
from store import open_store
from tests.flows.artifacts import read_latest_artifacts
from tests.helpers import settled, write_csv


@pytest.mark.slow
def test_landing_folder_is_ingested_and_archived(
    tmp_path: Path, landing: Path, prefect_harness: None
) -> None:
    write_csv(landing / "identities_email.csv", ["external_id", "first_name"], [["ann@example.com", "Ann"]])
    write_csv(
        landing / "messages_email.csv",
        ["thread_id", "external_id", "author_kind", "body", "created_at"],
        [["t1", "ann@example.com", "customer", "Hello", "2024-05-01T09:00:00Z"]],
    )
    (landing / "identities_broken.csv").write_bytes(b"")
    settled(*landing.iterdir())
    store = tmp_path / "store.duckdb"

    reports = ingest_flow(store=str(store))

    assert [r["status"] for r in reports] == ["failed", "loaded", "loaded"]
    assert not [p for p in landing.iterdir() if p.is_file()]
    assert len(list((landing / "processed").rglob("*.csv"))) == 2
    assert len(list((landing / "failed").rglob("*.csv"))) == 1
    with open_store(store) as session:
        assert session.scalar("SELECT count(*) FROM messages") == 1
        assert session.scalar("SELECT channel FROM identities") == "email"
    # the run published its tables under stable keys (the latest version of each key is this run's)
    keys = ["ingest-summary", "ingest-files", "ingest-channels"]
    by_key = read_latest_artifacts(keys)
    assert set(by_key) == set(keys)
    assert '"channel": "email"' in by_key["ingest-channels"]


def test_channel_counts_split_read_loaded_and_quarantined(tmp_path: Path) -> None:
    from domain.settings import IngestSettings
    from flows.ingest import channel_counts
    from ingest.pipeline import load, prepare
    from ingest.read import read_file

    settings = IngestSettings(data_docs_dir=tmp_path / "docs", landing_dir=tmp_path / "landing")
    path = write_csv(
        tmp_path / "identities.csv",
        ["channel", "external_id", "first_name", "email"],
        [
            ["email", "ann@example.com", "Ann", "ann@example.com"],
            ["sms", "+447700900001", "Bo", ""],
            ["sms", "+447700900002", "Cy", ""],
            ["pager", "p-1", "Di", ""],  # not a configured channel: quarantined
        ],
    )
    prepared = prepare(read_file(path, settings), settings)
    with open_store(tmp_path / "store.duckdb") as session:
        report = load(session, prepared)
    counts = channel_counts(prepared, report)
    assert counts == {
        "email": {"read": 1, "loaded": 1, "quarantined": 0},
        "sms": {"read": 2, "loaded": 2, "quarantined": 0},
        "pager": {"read": 1, "loaded": 0, "quarantined": 1},
    }
    assert sum(c["loaded"] for c in counts.values()) == report.rows_loaded


@pytest.mark.slow
def test_an_erased_person_coming_back_is_recognised_as_new(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from compliance.requests import request_anonymization
    from compliance.runner import run_anonymizations
    from domain.settings import ComplianceSettings

    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(tmp_path / "docs"))
    monkeypatch.setenv("IDRES_COMPLIANCE__ANONYMIZATION_KEY", "test-key-not-secret")
    monkeypatch.setenv("IDRES_COMPLIANCE__EXPORT_DIR", str(tmp_path / "exports"))
    compliance = ComplianceSettings(anonymization_key="test-key-not-secret", export_dir=tmp_path / "exports")
    store = tmp_path / "store.duckdb"
    header = ["external_id", "first_name", "last_name"]
    ingest_flow(
        paths=[
            str(write_csv(tmp_path / "identities_email.csv", header, [["zed@example.org", "Zed", "Quill"]]))
        ],
        store=str(store),
    )
    with open_store(store) as session:
        request_anonymization(session, "officer", customer_id=1)
        assert run_anonymizations(session, compliance, "test")["done"]

    (tmp_path / "again").mkdir()
    # a later export (other bytes: a file seen before is skipped whole) with the same person in it
    again = write_csv(
        tmp_path / "again" / "identities_email.csv",
        header,
        [["amy@example.org", "Amy", "Rowe"], ["zed@example.org", "Zed", "Quill"]],
    )
    ingest_flow(paths=[str(again)], store=str(store))

    with open_store(store) as session:
        back = session.rows(
            "SELECT customer_id, key_hash FROM identities WHERE external_id = 'zed@example.org'"
        )
        assert len(back) == 1 and back[0]["customer_id"] != 1 and back[0]["key_hash"]
        assert session.scalar("SELECT count(*) FROM audit_log WHERE action = 'reappeared_after_erasure'") == 1


@pytest.mark.slow
def test_the_files_of_a_run_are_validated_in_one_gx_run_and_quarantine_names_each_file(
    tmp_path: Path, landing: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from ingest import validate as validation

    runs: list[str] = []
    real_run_gx = validation._run_gx

    def counted(data, kind, rules, name, docs):  # type: ignore[no-untyped-def]
        runs.append(name)
        return real_run_gx(data, kind, rules, name, docs)

    monkeypatch.setattr(validation, "_run_gx", counted)
    header = ["channel", "external_id", "first_name"]
    # the same key twice in a is a duplicate; in a and b it is one identity seen twice
    write_csv(
        landing / "identities_a.csv",
        header,
        [["chat", "k1", "Ann"], ["chat", "k2", "Bo"], ["chat", "k1", "X"]],
    )
    write_csv(landing / "identities_b.csv", header, [["chat", "k1", "Ann"], ["fax", "k9", "Cy"]])
    write_csv(landing / "identities_c.csv", header, [["chat", "k3", "Di"]])
    settled(*landing.iterdir())
    store = tmp_path / "store.duckdb"

    reports = ingest_flow(store=str(store))

    assert len(runs) == 1, runs  # one GX validation for the three files
    assert [(r["status"], r["rows_loaded"], r["rows_quarantined"]) for r in reports] == [
        ("loaded", 2, 1),
        ("loaded", 1, 1),
        ("loaded", 1, 0),
    ]
    with open_store(store) as session:
        quarantined = session.rows("SELECT file_path, row_number, reason FROM quarantine ORDER BY file_path")
        validations = [
            json.loads(row["validation"]) for row in session.rows("SELECT validation FROM ingest_batches")
        ]
        assert session.scalar("SELECT count(*) FROM identities") == 3
    assert [(Path(q["file_path"]).name, q["row_number"], q["reason"]) for q in quarantined] == [
        (
            "identities_a.csv",
            3,
            "duplicate (channel, external_id) in the batch (the first occurrence is kept)",
        ),
        ("identities_b.csv", 2, "channel is not a configured channel"),
    ]
    assert all(Path(q["file_path"]).parent.parent.name == "processed" for q in quarantined)
    assert [v["gx"]["files"] for v in validations] == [3, 3, 3]
    assert all(v["counts_agree"] for v in validations)
    assert [v["success"] for v in validations] == [False, False, True]  # each file's own verdict
