"""load_jointly: several identity files in one set of statements write what loading them one after the
other writes, and refuse (writing nothing) when a file's rows would depend on another's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from domain.settings import IngestSettings
from ingest.pipeline import FileReport, Prepared, already_loaded, ingest_file, load, load_jointly, prepare
from ingest.read import read_file
from store import Store, open_store
from tests.helpers import write_csv

HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "updated_at"]
# columns that hold the time of the load, not what was loaded
_CLOCK = {
    "first_seen_at",
    "changed_at",
    "started_at",
    "finished_at",
    "quarantined_at",
    "created_at",
    "updated_at",
}
_TABLES = ("identities", "customers", "ingest_batches", "quarantine")


def _seed(store: Store, settings: IngestSettings, folder: Path) -> None:
    """ann (to be updated), bo (to arrive unchanged) and cy (to arrive stale) in the store."""
    rows = [
        ["email", "ann@example.com", "Ann", "Lee", "ann@example.com", "", "2024-01-01T00:00:00Z"],
        ["email", "bo@example.com", "Bo", "Ng", "bo@example.com", "", "2024-01-01T00:00:00Z"],
        ["email", "cy@example.com", "Cy", "Ray", "cy@example.com", "", "2024-06-01T00:00:00Z"],
    ]
    ingest_file(store, write_csv(folder / "seed.csv", HEADER, rows), settings)


def _files(folder: Path, settings: IngestSettings) -> list[Prepared]:
    """Three files: new rows, an update, an unchanged and a stale row, a quarantined row (unknown channel)."""
    contents = {
        "a.csv": [
            ["email", "ann@example.com", "Ann", "Lee-Smith", "ann@example.com", "", "2024-03-01T00:00:00Z"],
            ["sms", "+447911123456", "", "", "", "+447911123456", ""],
        ],
        "b.csv": [
            ["email", "bo@example.com", "Bo", "Ng", "bo@example.com", "", "2024-01-01T00:00:00Z"],
            ["pager", "x1", "Al", "", "", "", ""],
            ["chat", "b-2", "Dee", "Fox", "dee@example.com", "", ""],
        ],
        "c.csv": [
            ["email", "cy@example.com", "Cy", "Old", "cy@example.com", "", "2023-01-01T00:00:00Z"],
            *[["sms", f"+44791100{i:04d}", "", "", "", f"+44791100{i:04d}", ""] for i in range(30)],
        ],
    }
    folder.mkdir(exist_ok=True)
    return [
        prepare(read_file(write_csv(folder / name, HEADER, rows), settings), settings)
        for name, rows in contents.items()
    ]


def _content(store: Store) -> dict[str, list[dict[str, Any]]]:
    content = {
        table: [
            {k: v for k, v in row.items() if k not in _CLOCK}
            for row in store.rows(f"SELECT * FROM {table} ORDER BY 1")
        ]
        for table in _TABLES
    }
    for batch in content["ingest_batches"]:  # the seed's validation summary holds the time of its run
        if str(batch["file_path"]).endswith("seed.csv"):
            batch.pop("validation")
    return content


def _said(report: FileReport) -> dict[str, Any]:
    return {k: v for k, v in report.to_dict().items() if k != "seconds"}


def _repeating(folder: Path, settings: IngestSettings) -> list[Prepared]:
    """Two more files: d repeats a's sms identity (changed) and b's chat one (as it was), e that sms one again."""
    sms = ["sms", "+447911123456", "Sam", "", "", "+447911123456", ""]
    more = {
        "d.csv": [
            sms,
            ["chat", "b-2", "Dee", "Fox", "dee@example.com", "", ""],
            ["chat", "d-1", "Eve", "", "", "", ""],
        ],
        "e.csv": [[*sms[:2], "Samuel", *sms[3:]]],
    }
    return [
        prepare(read_file(write_csv(folder / name, HEADER, rows), settings), settings)
        for name, rows in more.items()
    ]


@pytest.mark.parametrize("case", ["distinct keys", "repeated keys", "a file loaded before"])
def test_files_loaded_jointly_write_what_loading_them_in_turn_writes(
    tmp_path: Path, ingest_settings: IngestSettings, case: str
) -> None:
    with (
        open_store(tmp_path / "in_turn.duckdb") as in_turn,
        open_store(tmp_path / "jointly.duckdb") as jointly,
    ):
        _seed(in_turn, ingest_settings, tmp_path)
        _seed(jointly, ingest_settings, tmp_path)
        files = _files(tmp_path / "landing", ingest_settings)
        if case == "repeated keys":
            files += _repeating(tmp_path / "landing", ingest_settings)
        elif case == "a file loaded before":
            load(in_turn, files[1])
            load(jointly, files[1])
        expected = [already_loaded(in_turn, prepared.raw) or load(in_turn, prepared) for prepared in files]
        reports = load_jointly(jointly, files)

        assert reports is not None
        assert [_said(r) for r in reports] == [_said(r) for r in expected]
        assert _content(jointly) == _content(in_turn)
        counts = [
            (r.rows_new, r.rows_updated, r.rows_unchanged, r.rows_stale, r.rows_quarantined) for r in reports
        ]
        if case == "a file loaded before":
            assert reports[1].status == "unchanged"
        else:
            assert counts[:3] == [(1, 1, 0, 0, 0), (1, 0, 1, 0, 1), (30, 0, 0, 1, 0)]
        if case == "repeated keys":  # d's and e's rows met what the earlier files left
            assert counts[3:] == [(1, 1, 1, 0, 0), (0, 1, 0, 0, 0)]
            assert (
                jointly.scalar("SELECT first_name FROM identities WHERE external_id = '+447911123456'")
                == "Samuel"
            )


@pytest.mark.parametrize("case", ["the same content twice", "one file"])
def test_files_that_cannot_be_loaded_jointly_are_left_to_load(
    tmp_path: Path, ingest_settings: IngestSettings, case: str
) -> None:
    with open_store(tmp_path / "store.duckdb") as store:
        _seed(store, ingest_settings, tmp_path)
        files = _files(tmp_path / "landing", ingest_settings)
        if case == "the same content twice":
            copy = tmp_path / "copy.csv"
            copy.write_bytes(files[0].raw.path.read_bytes())
            files.append(prepare(read_file(copy, ingest_settings), ingest_settings))
        else:
            files = files[:1]
        before = _content(store)

        assert load_jointly(store, files) is None
        assert _content(store) == before
