"""The landing folder's quarantine follows its files: paths into processed/ or failed/, a reason beside failures."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.ingest import ingest_flow
from store import open_store
from tests.flows.artifacts import read_latest_artifacts
from tests.helpers import settled, write_csv


@pytest.mark.slow
def test_quarantine_paths_follow_the_archived_files_and_failures_say_why(
    tmp_path: Path, landing: Path, prefect_harness: None
) -> None:
    header = ["channel", "external_id", "first_name", "email"]
    rows = [
        ["email", "ann@example.com", "Ann", ""],
        ["pager", "1", "Bo", ""],
        ["chat", "v-1", "Eu", "eu@orange.f"],
    ]
    write_csv(landing / "identities_a.csv", header, rows)
    write_csv(landing / "identities_b.csv", header, [["pager", "2", "Cy", ""]])  # every row quarantined
    (landing / "identities_c.csv").write_bytes(b"")  # unreadable
    settled(*landing.iterdir())
    store = tmp_path / "store.duckdb"

    reports = {Path(r["path"]).name: r for r in ingest_flow(store=str(store))}

    assert [reports[name]["status"] for name in sorted(reports)] == ["loaded", "rejected", "failed"]
    processed = next((landing / "processed").rglob("identities_a.csv"))
    rejected = next((landing / "failed").rglob("identities_b.csv"))
    failed = next((landing / "failed").rglob("identities_c.csv"))
    assert reports["identities_a.csv"]["archived_to"] == str(processed)
    with open_store(store) as session:
        quarantined = {row["file_path"] for row in session.rows("SELECT file_path FROM quarantine")}
        batches = {row["file_path"] for row in session.rows("SELECT file_path FROM ingest_batches")}
    assert quarantined == {str(processed), str(rejected)} == batches  # not the landing paths any more
    reason = rejected.with_name("identities_b.csv.reason.txt").read_text()
    assert "channel is not a configured channel: 1" in reason and "quarantine retry --batch" in reason
    assert "the file is empty" in failed.with_name("identities_c.csv.reason.txt").read_text()

    # the run's artifacts show the warnings per field beside the quarantine reasons
    by_key = read_latest_artifacts(["ingest-summary", "ingest-files", "ingest-warnings"])
    assert '"reason_or_field": "email"' in by_key["ingest-warnings"]
    assert '"outcome": "loaded with a bad optional value"' in by_key["ingest-warnings"]
    assert "channel is not a configured channel" in by_key["ingest-warnings"]
    assert "Quarantine reasons and warnings" in by_key["ingest-summary"]
    assert '"warnings": 1' in by_key["ingest-files"]
