"""Rewriting the store file: old values gone from the bytes, schema and rows kept, nothing half done."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import pytest

from store import Store, StoreError, open_store
from store.rewrite import rewrite_store, stray_copies

SECRET = "secret-before-image-value-4711"


def _schema(store: Store) -> list[object]:
    return [
        store.rows("SELECT table_name, column_name, data_type, comment FROM duckdb_columns() ORDER BY ALL"),
        store.rows(
            "SELECT table_name, constraint_type, constraint_column_names FROM duckdb_constraints() ORDER BY ALL"
        ),
        store.rows("SELECT index_name, sql FROM duckdb_indexes() ORDER BY ALL"),
        store.rows("SELECT * FROM schema_migrations ORDER BY version"),
    ]


def _overwritten(store: Store) -> None:
    with store.transaction():
        store.execute("INSERT INTO comments VALUES (1, 1, NULL, 'sam', ?, now())", [SECRET])
    store.execute("CHECKPOINT")
    with store.transaction():
        store.execute("UPDATE comments SET body = 'nothing to see'")
    store.execute("CHECKPOINT")


def test_a_value_overwritten_by_an_update_stays_in_the_file_until_the_rewrite(store: Store) -> None:
    _overwritten(store)
    assert SECRET.encode() in store.path.read_bytes()  # what DuckDB leaves behind (the reason for all this)
    before = _schema(store)
    report = rewrite_store(store)
    assert SECRET.encode() not in store.path.read_bytes()
    assert store.rows("SELECT body FROM comments") == [{"body": "nothing to see"}]
    assert _schema(store) == before  # tables, types, comments, constraints, indexes, migrations
    assert report.bytes_after > 0 and stray_copies(store.path) == []
    assert not store.path.with_name(store.path.name + ".wal").exists()
    with store.transaction():  # the swapped-in file is the one this connection writes to
        store.execute("INSERT INTO comments VALUES (2, 1, NULL, 'sam', 'after', now())")
    store.close()
    with open_store(store.path) as reopened:
        assert reopened.scalar("SELECT count(*) FROM comments") == 2


def test_the_rewritten_store_is_private(store: Store) -> None:
    rewrite_store(store)
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600


def test_a_new_store_and_its_folder_are_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "deeper" / "store.duckdb"
    with open_store(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


def test_another_connection_of_this_process_stops_the_rewrite_before_anything_changes(store: Store) -> None:
    _overwritten(store)
    other = duckdb.connect(str(store.path))  # shares the database: a swap would leave it on the old file
    try:
        with pytest.raises(StoreError, match="open elsewhere in this process"):
            rewrite_store(store)
        assert store.rows("SELECT body FROM comments") == [{"body": "nothing to see"}]
        assert stray_copies(store.path) == []
    finally:
        other.close()


def test_a_copy_left_by_a_killed_rewrite_is_removed_by_the_next(store: Store) -> None:
    stray = store.path.with_name(f".{store.path.name}.rewrite-999-deadbeef")
    stray.write_bytes(SECRET.encode())
    rewrite_store(store)
    assert not stray.exists()


def test_a_rewrite_inside_a_transaction_is_refused(store: Store) -> None:
    with store.transaction(), pytest.raises(StoreError, match="inside a transaction"):
        rewrite_store(store)


def test_steps_are_reported_in_order(store: Store) -> None:
    steps: list[str] = []
    rewrite_store(store, on_step=steps.append)
    assert steps == ["rewrite:copied", "rewrite:swapped"]
    assert os.access(store.path, os.R_OK)


def _another_process_opens(path: Path) -> bool:
    """Whether another process can open the store for writing now (DuckDB's lock says no while it is open)."""
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return child.returncode == 0


def test_reading_the_files_bytes_keeps_other_processes_out(store: Store) -> None:
    from store.rewrite import bytes_readable

    _overwritten(store)
    assert not _another_process_opens(store.path)
    with bytes_readable(store):
        assert SECRET.encode() in store.path.read_bytes()
    # read with the connection open, closing the file dropped DuckDB's lock: the page could open it
    assert not _another_process_opens(store.path)
    assert store.scalar("SELECT body FROM comments") == "nothing to see"  # reconnected
