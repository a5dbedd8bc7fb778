"""The web outbox file (`<store>.outbox.sqlite`, see web/gate.py) as erasure sees it.

Queued actions about an erased person are dropped (their result says so, without the arguments);
other rows that mention the person's values have those values replaced. Afterwards the file is
compacted with SQLite's secure delete and VACUUM and its WAL truncated, so no freed page keeps them.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from anonymize.scrub import scrub_spellings

ERASED = "[erased]"
TABLES = ("outbox", "outbox_results")


def outbox_path(store_path: Path) -> Path:
    """Where the web page keeps its outbox for a store."""
    return store_path.with_name(store_path.name + ".outbox.sqlite")


def outbox_files(store_path: Path) -> list[Path]:
    """The outbox and its SQLite side files that exist."""
    base = outbox_path(store_path)
    return [
        p
        for p in (base, *(base.with_name(base.name + s) for s in ("-wal", "-shm", "-journal")))
        if p.exists()
    ]


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=30, isolation_level=None)) as db:
        db.execute("PRAGMA secure_delete = ON")
        yield db


def _tables(db: sqlite3.Connection) -> list[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return [row[0] for row in rows if row[0] in TABLES]


def _about(arguments: Any, customer_ids: set[int]) -> bool:
    if not isinstance(arguments, dict):
        return False
    for key in ("customer_id", "survivor_id", "absorbed_id", "customer_a", "customer_b"):
        value = arguments.get(key)
        if isinstance(value, int | str) and str(value).strip().isdigit() and int(value) in customer_ids:
            return True
    return False


def _replace(text: str, literals: Sequence[str], patterns: Sequence[str]) -> str:
    return scrub_spellings(text, literals, patterns) or ""


def erase_person(
    store_path: Path, customer_ids: Sequence[int], literals: Sequence[str], phone_patterns: Sequence[str]
) -> int:
    """Drop the person's queued actions and scrub its values from other rows; returns rows changed."""
    path = outbox_path(store_path)
    if not path.exists():
        return 0
    ids = {int(i) for i in customer_ids}
    patterns = list(phone_patterns)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")
    changed = 0
    with _open(path) as db:
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in _tables(db):
                rows = db.execute(f"SELECT rowid, * FROM {table}").fetchall()
                names = [d[0] for d in db.execute(f"SELECT * FROM {table} LIMIT 0").description]
                for row in rows:
                    record = dict(zip(["rowid", *names], row, strict=True))
                    changed += _erase_row(db, table, record, ids, literals, patterns, now)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return changed


def _erase_row(
    db: sqlite3.Connection, table: str, record: dict[str, Any], ids: set[int], literals: Sequence[str],
    patterns: Sequence[str], now: str,
) -> int:  # fmt: skip
    try:
        arguments = json.loads(record.get("arguments") or "null")
    except ValueError:
        arguments = None
    if _about(arguments, ids):
        if table == "outbox":  # never applied: the customer it was about no longer exists
            db.execute("DELETE FROM outbox WHERE rowid = ?", [record["rowid"]])
            db.execute(
                "INSERT OR REPLACE INTO outbox_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [record["outbox_id"], record["username"], record["action"], "{}", record["created_at"], now,
                 "failed", "dropped: the customer was anonymized before the action could be applied"],
            )  # fmt: skip
        else:
            db.execute(
                "UPDATE outbox_results SET arguments = '{}', message = ? WHERE rowid = ?",
                [_replace(str(record.get("message") or ""), literals, patterns), record["rowid"]],
            )
        return 1
    updates = {}
    for column in ("arguments", "message"):
        text = record.get(column)
        if isinstance(text, str):
            scrubbed = _replace(text, literals, patterns)
            if scrubbed != text:
                updates[column] = (
                    json.dumps(ERASED) if column == "arguments" and not _is_json(scrubbed) else scrubbed
                )
    if not updates:
        return 0
    assignments = ", ".join(f"{column} = ?" for column in updates)
    db.execute(f"UPDATE {table} SET {assignments} WHERE rowid = ?", [*updates.values(), record["rowid"]])
    return 1


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def compact(store_path: Path) -> bool:
    """Rebuild the outbox file without free pages (secure delete, VACUUM, WAL truncated); False when none."""
    path = outbox_path(store_path)
    if not path.exists():
        return False
    with _open(path) as db:
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return True
