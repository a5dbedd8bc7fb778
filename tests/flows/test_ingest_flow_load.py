"""The `ingest` flow loads a run's checked files in one transaction; a file whose load fails is loaded
alone after a rollback, so it leaves nothing behind and the others load; a re-run loads nothing twice."""

from __future__ import annotations

from pathlib import Path

import pytest

import ingest.pipeline as pipeline
from flows.ingest import ingest_flow
from store import Store, open_store
from tests.helpers import settled, write_csv

HEADER = ["channel", "external_id", "first_name"]


def _write(landing: Path) -> None:
    write_csv(landing / "identities_a.csv", HEADER, [["chat", "a1", "Ann"], ["chat", "a2", "Al"]])
    # row 2 has a channel idres does not know: quarantined, the file named with the row
    write_csv(landing / "identities_b.csv", HEADER, [["chat", "b1", "Bo"], ["pager", "b2", "Bea"]])
    write_csv(landing / "identities_c.csv", HEADER, [["chat", "c1", "Cy"], ["chat", "a1", "Annie"]])
    settled(*landing.iterdir())


def _stored(store: Path) -> tuple[list[tuple[str, str]], list[tuple[str, int, str]], int]:
    with open_store(store) as session:
        identities = [
            (row["external_id"], row["first_name"])
            for row in session.rows("SELECT external_id, first_name FROM identities ORDER BY 1")
        ]
        quarantine = [
            (Path(row["file_path"]).name, row["row_number"], row["reason"])
            for row in session.rows("SELECT file_path, row_number, reason FROM quarantine ORDER BY 1, 2")
        ]
        batches = int(session.scalar("SELECT count(*) FROM ingest_batches"))
    return identities, quarantine, batches


@pytest.mark.slow
def test_the_files_load_in_one_commit_and_a_rerun_loads_nothing_twice(
    tmp_path: Path, landing: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store.duckdb"
    _write(landing)
    commits: list[str] = []
    real_execute = Store.execute

    def counted(self: Store, statement: str, params: object = None) -> None:
        if statement == "COMMIT":
            commits.append(statement)
        real_execute(self, statement, params)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "execute", counted)
    reports = ingest_flow(store=str(store))
    monkeypatch.setattr(Store, "execute", real_execute)

    assert [(r["status"], r["rows_loaded"], r["rows_quarantined"]) for r in reports] == [
        ("loaded", 2, 0),
        ("loaded", 1, 1),
        ("loaded", 2, 0),  # c updates a1 (loaded by a, in the same transaction) and adds c1
    ]
    # the three files' rows in one commit, their archived paths in another (plus the store's migration)
    assert len(commits) == 3, commits
    identities, quarantine, batches = _stored(store)
    assert identities == [("a1", "Annie"), ("a2", "Al"), ("b1", "Bo"), ("c1", "Cy")]
    assert quarantine == [("identities_b.csv", 2, "channel is not a configured channel")]
    assert batches == 3

    # the same files dropped in again: unchanged, nothing written twice
    for archived in (landing / "processed").rglob("identities_*.csv"):
        archived.rename(landing / archived.name)
    settled(*landing.glob("identities_*.csv"))
    again = ingest_flow(store=str(store))

    assert [r["status"] for r in again] == ["unchanged"] * 3
    assert _stored(store) == (identities, quarantine, batches)


@pytest.mark.slow
def test_a_file_whose_load_fails_leaves_nothing_and_the_others_load(
    tmp_path: Path, landing: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store.duckdb"
    _write(landing)
    real_insert_batch = pipeline.insert_batch

    def insert_or_fail(session: Store, batch: dict[str, object]) -> None:
        # b's identities and quarantine rows are written by now: its failure must take them back
        if Path(str(batch["file_path"])).name == "identities_b.csv":
            raise RuntimeError("the disk said no")
        real_insert_batch(session, batch)

    monkeypatch.setattr(pipeline, "insert_batch", insert_or_fail)
    reports = {Path(r["path"]).name: r for r in ingest_flow(store=str(store))}

    assert reports["identities_a.csv"]["status"] == "loaded"
    assert reports["identities_c.csv"]["status"] == "loaded"
    assert reports["identities_b.csv"]["status"] == "failed"
    assert "identities_b.csv" in reports["identities_b.csv"]["error"]
    assert "the disk said no" in reports["identities_b.csv"]["error"]
    identities, quarantine, batches = _stored(store)
    assert identities == [("a1", "Annie"), ("a2", "Al"), ("c1", "Cy")]  # nothing of b
    assert quarantine == []
    assert batches == 2
    assert next((landing / "failed").rglob("identities_b.csv"))
    assert len(list((landing / "processed").rglob("identities_*.csv"))) == 2

    monkeypatch.setattr(pipeline, "insert_batch", real_insert_batch)
    next((landing / "failed").rglob("identities_b.csv")).rename(landing / "identities_b.csv")
    settled(landing / "identities_b.csv")
    (again,) = ingest_flow(store=str(store))  # b, fixed, dropped in again: loads whole

    assert (again["status"], again["rows_loaded"], again["rows_quarantined"]) == ("loaded", 1, 1)
    assert _stored(store)[0] == [("a1", "Annie"), ("a2", "Al"), ("b1", "Bo"), ("c1", "Cy")]
