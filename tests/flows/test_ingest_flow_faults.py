"""The `ingest` flow under faults: half-written files, files changing while read, files that break the reader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flows.ingest as ingest_module
import ingest.pipeline as pipeline
from flows.ingest import ingest_flow
from store import open_store
from tests.helpers import settled, write_csv

HEADER = ["external_id", "first_name"]


def _identities(store: Path) -> int:
    with open_store(store) as session:
        return int(session.scalar("SELECT count(*) FROM identities"))


def _rows(count: int, start: int = 0) -> list[list[str]]:
    return [[f"p{i}@example.com", f"P{i}"] for i in range(start, start + count)]


def _in_landing(landing: Path) -> list[str]:
    return sorted(p.name for p in landing.iterdir() if p.is_file())


@pytest.mark.slow
def test_a_file_still_being_written_waits_for_the_next_run(
    tmp_path: Path, landing: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a settle window far longer than a flow's start on a loaded machine (5 s was not, at load 8-10);
    # `settled` backdates past it
    monkeypatch.setenv("IDRES_INGEST__LANDING_SETTLE_S", "60")
    store = tmp_path / "store.duckdb"
    write_csv(landing / "identities_email.csv", HEADER, _rows(50))  # modified just now: a writer may be at it

    reports = ingest_flow(store=str(store))

    assert [r["status"] for r in reports] == ["waiting"]
    assert "modified" in reports[0]["error"]
    assert _in_landing(landing) == ["identities_email.csv"]
    assert not (landing / "processed").exists()

    with (landing / "identities_email.csv").open("a", newline="") as handle:  # the writer finishes
        handle.writelines(f"{row[0]},{row[1]}\r\n" for row in _rows(50, start=50))
    settled(landing / "identities_email.csv")
    reports = ingest_flow(store=str(store))

    assert [(r["status"], r["rows_read"]) for r in reports] == [("loaded", 100)]
    assert _in_landing(landing) == []
    assert _identities(store) == 100


@pytest.mark.slow
def test_temporary_names_are_skipped_and_a_ready_marker_can_be_required(
    tmp_path: Path, landing: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDRES_INGEST__LANDING_REQUIRE_READY", "true")
    store = tmp_path / "store.duckdb"
    write_csv(landing / "identities_email.csv.part", HEADER, _rows(3))
    write_csv(landing / "identities_chat.csv", ["external_id", "first_name"], [["c1", "Cy"]])
    settled(*landing.iterdir())

    reports = ingest_flow(store=str(store))

    assert [r["status"] for r in reports] == ["waiting"]  # the .part file is not even considered
    assert "marker" in reports[0]["error"]
    (landing / "identities_chat.csv.ready").touch()
    reports = ingest_flow(store=str(store))

    assert [r["status"] for r in reports] == ["loaded"]
    assert _in_landing(landing) == ["identities_email.csv.part"]  # the marker went with its file
    assert _identities(store) == 1


@pytest.mark.slow
def test_a_file_that_changes_while_it_is_read_is_not_loaded_nor_archived(
    tmp_path: Path, landing: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store.duckdb"
    path = write_csv(landing / "identities_email.csv", HEADER, _rows(20))
    settled(path)
    real_read = ingest_module.read_file

    def read_then_append(*args, **kwargs):  # type: ignore[no-untyped-def]
        raw = real_read(*args, **kwargs)
        with path.open("a", newline="") as handle:  # a late writer appends the rest
            handle.writelines(f"{row[0]},{row[1]}\r\n" for row in _rows(30, start=20))
        return raw

    monkeypatch.setattr(ingest_module, "read_file", read_then_append)
    reports = ingest_flow(store=str(store))

    assert [r["status"] for r in reports] == ["changed"]
    assert _in_landing(landing) == ["identities_email.csv"]
    assert _identities(store) == 0

    monkeypatch.setattr(ingest_module, "read_file", real_read)
    settled(path)
    reports = ingest_flow(store=str(store))
    assert [(r["status"], r["rows_read"]) for r in reports] == [("loaded", 50)]
    assert _identities(store) == 50


@pytest.mark.slow
def test_one_bad_file_never_blocks_the_others(
    tmp_path: Path, landing: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store.duckdb"
    (landing / "identities_deep.jsonl").write_text(
        json.dumps({"channel": "chat", "external_id": "d1"})
        + "\n"
        + '{"channel": "chat", "external_id": "d2", "x": '
        + "[" * 100_000
        + "]" * 100_000
        + "}\n"
    )
    (landing / "identities_dupe.csv").write_text("external_id,first_name, first_name\nx,A,B\n")
    write_csv(landing / "identities_explodes.csv", HEADER, _rows(2, start=900))
    write_csv(landing / "identities_email.csv", HEADER, _rows(5))
    settled(*landing.iterdir())
    real_normalize = pipeline.normalize_identities

    def normalize_or_explode(frame, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "P900" in frame.get_column("first_name").to_list():  # a row of identities_explodes.csv
            raise ZeroDivisionError("an unforeseen bug")
        return real_normalize(frame, *args, **kwargs)

    # the files of a run are checked (and normalized) together: one that explodes fails alone
    monkeypatch.setattr(pipeline, "normalize_identities", normalize_or_explode)

    reports = ingest_flow(store=str(store))

    by_name = {Path(r["path"]).name: r for r in reports}
    assert by_name["identities_email.csv"]["status"] == "loaded"
    for name in ("identities_deep.jsonl", "identities_dupe.csv", "identities_explodes.csv"):
        assert by_name[name]["status"] == "failed", name
        assert name in by_name[name]["error"]
    assert "line 2" in by_name["identities_deep.jsonl"]["error"]
    assert "first_name" in by_name["identities_dupe.csv"]["error"]
    assert _in_landing(landing) == []
    failed = sorted(
        p.name for p in (landing / "failed").rglob("*") if p.is_file() and not p.name.endswith(".reason.txt")
    )
    assert failed == ["identities_deep.jsonl", "identities_dupe.csv", "identities_explodes.csv"]
    assert _identities(store) == 5
