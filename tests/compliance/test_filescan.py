"""The byte-level search over the files idres owns."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.filescan import CHUNK, OwnedFiles, files_holding
from compliance.spellings import phone_forms

ALICE_PHONE = "+447491614434"


def _alice_phone() -> tuple[list[str], list[str]]:
    forms, pattern = phone_forms(ALICE_PHONE)
    assert pattern is not None
    return sorted(forms), [pattern]


def test_a_file_that_vanishes_between_listing_and_reading_holds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("jane.doe@example.com")
    gone = tmp_path / "store.duckdb.outbox.sqlite-wal"  # listed, then removed by SQLite before it is read
    files = OwnedFiles(export_dir=tmp_path / "exports")
    monkeypatch.setattr(OwnedFiles, "paths", lambda self: [gone, kept])

    assert files_holding(files, ["jane.doe@example.com"], [], None) == [f"file {kept}"]


@pytest.mark.parametrize(
    "spelling", ["+447491614434", "07491614434", "07491 614434", "07491-614-434", "(07491) 614 434",
                 "+44 (0)7491 614434", "0044 7491.614.434"],
)  # fmt: skip
def test_every_spelling_of_a_phone_is_found_in_the_raw_bytes_of_the_store_file(
    tmp_path: Path, spelling: str
) -> None:
    # the store file was searched for the literal forms only: `07491-614-434` in a freed block passed
    store = tmp_path / "store.duckdb"
    store.write_bytes(b"\x00DUCK\x01" * 5000 + f"\x07rang from {spelling}\x00".encode() + b"\xff\x10" * 5000)
    literals, patterns = _alice_phone()
    files = OwnedFiles(export_dir=tmp_path / "exports", store=store)

    assert files_holding(files, literals, patterns, None) == [f"file {store}"]


def test_another_number_in_the_store_file_is_not_taken_for_the_persons(tmp_path: Path) -> None:
    store = tmp_path / "store.duckdb"
    store.write_bytes(b"\x00" * 100 + b"07491 614435, 4474916144340, 17491614434\x00")
    literals, patterns = _alice_phone()
    files = OwnedFiles(export_dir=tmp_path / "exports", store=store)

    assert (
        files_holding(files, [f for f in literals if f != "447491614434"], patterns, None) == []
    )  # (a literal: inside 44749...0)


def test_a_phone_beyond_the_first_chunk_of_a_large_file_is_found(tmp_path: Path) -> None:
    # files over 64 MB were searched for the literal forms only
    store = tmp_path / "store.duckdb"
    with store.open("wb") as handle:
        handle.write(b"\x01" * (CHUNK - 3))
        handle.write(b" 07491-614-434 ")  # across the chunk boundary
        handle.write(b"\x02" * 1000)
    literals, patterns = _alice_phone()
    files = OwnedFiles(export_dir=tmp_path / "exports", store=store)

    assert files_holding(files, literals, patterns, None) == [f"file {store}"]
