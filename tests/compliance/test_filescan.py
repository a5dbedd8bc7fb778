"""The byte-level search over the files idres owns."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.filescan import OwnedFiles, files_holding


def test_a_file_that_vanishes_between_listing_and_reading_holds_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept = tmp_path / "kept.txt"
    kept.write_text("jane.doe@example.com")
    gone = tmp_path / "store.duckdb.outbox.sqlite-wal"  # listed, then removed by SQLite before it is read
    files = OwnedFiles(export_dir=tmp_path / "exports")
    monkeypatch.setattr(OwnedFiles, "paths", lambda self: [gone, kept])

    assert files_holding(files, ["jane.doe@example.com"], [], None) == [f"file {kept}"]
