"""The `ingest` Prefect flow on a landing folder: files are loaded, then moved out, never lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.ingest import ingest_flow
from store import open_store
from tests.helpers import write_csv


@pytest.mark.slow
def test_landing_folder_is_ingested_and_archived(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("IDRES_INGEST__LANDING_DIR", str(landing))
    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(tmp_path / "docs"))
    write_csv(landing / "identities_email.csv", ["external_id", "first_name"], [["ann@example.com", "Ann"]])
    write_csv(
        landing / "messages_email.csv",
        ["thread_id", "external_id", "author_kind", "body", "created_at"],
        [["t1", "ann@example.com", "customer", "Hello", "2024-05-01T09:00:00Z"]],
    )
    (landing / "identities_broken.csv").write_bytes(b"")
    store = tmp_path / "store.duckdb"

    reports = ingest_flow(store=str(store))

    assert [r["status"] for r in reports] == ["failed", "loaded", "loaded"]
    assert not [p for p in landing.iterdir() if p.is_file()]
    assert len(list((landing / "processed").rglob("*.csv"))) == 2
    assert len(list((landing / "failed").rglob("*.csv"))) == 1
    with open_store(store) as session:
        assert session.scalar("SELECT count(*) FROM messages") == 1
        assert session.scalar("SELECT channel FROM identities") == "email"
