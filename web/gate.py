"""How the page shares the DuckDB store with the flows: short connections, short waits, a durable outbox.

DuckDB lets one process hold the file at a time. The flows take it only for short phases, so:
- requests share one connection for a short while (`web/lease.py`: closed after 0.5 s idle, and
  after 8 s at most, then left closed long enough for a waiting flow to take the file);
- a page waits up to `read_wait_s` for a flow to let go; still busy, it answers with a friendly
  "store busy, retrying" page that refreshes itself (`StoreBusyError` is handled by the app);
- an action waits up to `write_wait_s`; still busy, it is written to the outbox (a SQLite file in WAL
  mode next to the store) and the user is told it is queued. A background thread drains the outbox
  through the same action functions as soon as the store is free. Each applied action's id is
  recorded in the store inside the action's own transaction, so a drain interrupted between the
  two commits never applies an action twice; a failed action is kept with its error for the user.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from domain.errors import Conflict
from store import Store, StoreBusyError
from store import users as store_users
from web.lease import Lease

log = logging.getLogger("idres.web")

# an action: (store, username, arguments) -> a message for the user
ActionFn = Callable[[Store, str, dict[str, Any]], str]


_SESSION_ARG = "_session"  # where a queued action keeps the web session it came from
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")


class SessionEnded(Conflict, ValueError):
    """The web session an action came from was ended (logout, disabled, role or password change)."""


def check_session(store: Store, session: str | None, username: str) -> None:
    """Refuse an action whose web session no longer counts (None: not from a web session)."""
    if session is None:
        return
    active = store_users.active_session(store, session)
    if active is None or active["username"] != username:
        raise SessionEnded(
            "not applied: your session had ended (logged out, account disabled, or its role or password "
            "changed); log in again and repeat the action"
        )


def _now() -> str:
    return datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="seconds")


@dataclass
class Outcome:
    """What became of an action: done (with a message) or queued (with its outbox id)."""

    status: str
    message: str
    outbox_id: str | None = None


class Outbox:
    """Actions waiting for the store, and what became of them (SQLite, WAL, one row per action)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if (
            not path.exists()
        ):  # queued actions hold personal data: private from the start (SQLite's side files follow)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                """CREATE TABLE IF NOT EXISTS outbox (
                    outbox_id TEXT PRIMARY KEY, username TEXT NOT NULL, action TEXT NOT NULL,
                    arguments TEXT NOT NULL, created_at TEXT NOT NULL)"""
            )
            db.execute(
                """CREATE TABLE IF NOT EXISTS outbox_results (
                    outbox_id TEXT PRIMARY KEY, username TEXT NOT NULL, action TEXT NOT NULL,
                    arguments TEXT NOT NULL, created_at TEXT NOT NULL, finished_at TEXT NOT NULL,
                    status TEXT NOT NULL, message TEXT)"""
            )

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA secure_delete = ON")  # finished actions leave no readable free pages
        return db

    def add(self, username: str, action: str, arguments: dict[str, Any], outbox_id: str | None = None) -> str:
        """Queue one action durably (under `outbox_id` when given: a key seen twice is queued once)."""
        outbox_id = outbox_id or uuid.uuid4().hex
        with self._connect() as db:
            db.execute(
                "INSERT OR IGNORE INTO outbox VALUES (?, ?, ?, ?, ?)",
                [outbox_id, username, action, json.dumps(arguments), _now()],
            )
        return outbox_id

    def pending(self, username: str | None = None) -> list[dict[str, Any]]:
        """Queued actions, oldest first (of one user when given)."""
        where, params = ("WHERE username = ?", [username]) if username else ("", [])
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM outbox {where} ORDER BY created_at, rowid", params).fetchall()
        return [dict(row) for row in rows]

    def results(self, username: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Finished queued actions, newest first."""
        where, params = ("WHERE username = ?", [username]) if username else ("", [])
        with self._connect() as db:
            rows = db.execute(
                f"SELECT * FROM outbox_results {where} ORDER BY finished_at DESC, rowid DESC LIMIT ?",
                [*params, limit],
            ).fetchall()
        return [dict(row) for row in rows]

    def find(self, outbox_id: str) -> tuple[str, dict[str, Any] | None]:
        """("pending", row), ("finished", row) or ("unknown", None) for one action id."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM outbox WHERE outbox_id = ?", [outbox_id]).fetchone()
            if row is not None:
                return "pending", dict(row)
            row = db.execute("SELECT * FROM outbox_results WHERE outbox_id = ?", [outbox_id]).fetchone()
        return ("finished", dict(row)) if row is not None else ("unknown", None)

    def finish(self, row: dict[str, Any], status: str, message: str) -> None:
        """Move one action from the queue to the results, in one SQLite transaction."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM outbox WHERE outbox_id = ?", [row["outbox_id"]])
            db.execute(
                "INSERT OR REPLACE INTO outbox_results VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    row["outbox_id"],
                    row["username"],
                    row["action"],
                    row["arguments"],
                    row["created_at"],
                    _now(),
                    status,
                    message,
                ],
            )
            db.execute("COMMIT")


class StoreGate:
    """Short store connections for pages and actions, with the outbox behind them."""

    def __init__(
        self,
        store_path: Path,
        actions: dict[str, ActionFn],
        read_wait_s: float,
        write_wait_s: float,
        lease: Lease | None = None,
    ) -> None:
        self.store_path = Path(store_path)
        self.lease = lease or Lease(self.store_path)
        self.actions = actions
        self.read_wait_s = read_wait_s
        self.write_wait_s = write_wait_s
        self.outbox = Outbox(self.store_path.with_name(self.store_path.name + ".outbox.sqlite"))
        # actions of this process run one at a time: DuckDB would otherwise fail one of two
        # concurrent writers with a transaction conflict
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def read(self) -> Iterator[Store]:
        """A connection for one page; raises StoreBusyError after `read_wait_s` (the app shows 'busy')."""
        with self.lease.store(self.read_wait_s) as store:
            yield store

    def run(
        self,
        username: str,
        action: str,
        arguments: dict[str, Any],
        *,
        session: str | None = None,
        action_key: str | None = None,
        queue: bool = True,
    ) -> Outcome:
        """Apply an action now, or queue it when the store stays busy (or earlier ones still wait).

        `session` (the web session the action comes from) is checked inside the action's own
        transaction, now or when the outbox applies it: an action of an ended session never runs.
        `action_key` makes a re-submitted form (retry, double click) take effect once. With
        `queue=False` a busy store raises StoreBusyError instead (the caller says it was not done).
        """
        if action not in self.actions:
            raise KeyError(f"unknown action {action!r}")
        key = action_key if action_key and _KEY_PATTERN.fullmatch(action_key) else None
        if key is not None:
            seen = self._seen(key)
            if seen is not None:
                return seen
        stored = {**arguments, _SESSION_ARG: session} if session else dict(arguments)
        if queue and self.outbox.pending():  # keep the order of actions: later ones wait behind queued ones
            self.drain_once()
        # an action that is never queued (a login) has no queued action to keep behind
        if not queue or not self.outbox.pending():
            try:
                with self._write_lock, self.lease.store(self.write_wait_s) as store, store.transaction():
                    check_session(store, session, username)
                    message = self.actions[action](store, username, arguments)
                    if key is not None:
                        store_users.mark_outbox_applied(store, key, username, action)
                    return Outcome("done", message)
            except StoreBusyError:
                if not queue:
                    raise
        outbox_id = self.outbox.add(username, action, stored, outbox_id=key)
        self._wake.set()
        return Outcome(
            "queued", "The store is busy with a scheduled run: queued, will take effect when the store is free.",
            outbox_id,
        )  # fmt: skip

    def _seen(self, key: str) -> Outcome | None:
        """What became of an action submitted before under `key` (None when it is new)."""
        state, row = self.outbox.find(key)
        if state == "pending":
            return Outcome(
                "queued", "This action was queued already: it takes effect once, when the store is free.", key
            )
        if row is not None:
            return Outcome(
                row["status"], f"This action was handled already ({row['status']}: {row['message']}).", key
            )
        try:
            with self.lease.store(self.read_wait_s) as store:
                applied = store_users.outbox_applied(store, key)
        except StoreBusyError:
            return None  # then it is queued under its key, and the drain skips it if it was applied
        return (
            Outcome("done", "This action was applied already (it takes effect once).", key)
            if applied
            else None
        )

    def drain_once(self, wait_s: float = 0.2) -> int:
        """Apply queued actions while the store is free; returns how many were finished."""
        done = 0
        for row in self.outbox.pending():
            with self._write_lock:
                try:
                    with self.lease.store(wait_s) as store:
                        status, message = self._apply(store, row)
                except StoreBusyError:
                    return done
            self.outbox.finish(row, status, message)
            done += 1
        return done

    def _apply(self, store: Store, row: dict[str, Any]) -> tuple[str, str]:
        if store_users.outbox_applied(store, row["outbox_id"]):
            return "done", "applied"  # applied before an interrupted drain could clear the row
        action = self.actions.get(row["action"])
        if action is None:
            return "failed", f"unknown action {row['action']!r}"
        arguments = json.loads(row["arguments"])
        session = arguments.pop(_SESSION_ARG, None)
        try:
            with store.transaction():
                check_session(store, session, row["username"])
                message = action(store, row["username"], arguments)
                store_users.mark_outbox_applied(store, row["outbox_id"], row["username"], row["action"])
        except StoreBusyError:
            raise
        except ValueError as error:  # ReviewError and bad arguments: the user sees why
            return "failed", str(error)
        except Exception as error:
            log.exception("queued action %s failed", row["outbox_id"])
            return "failed", f"{type(error).__name__}: {error}"
        return "done", message

    # -- background drain -------------------------------------------------------------------------
    def start(self, interval_s: float = 1.0) -> None:
        """Start the thread that drains the outbox every `interval_s` (and at once when woken)."""
        if self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    self.drain_once()
                except Exception:  # the drain must outlive any one bad row or a flaky store
                    log.exception("outbox drain failed")
                self._wake.wait(interval_s)
                self._wake.clear()

        self._thread = threading.Thread(target=loop, name="idres-web-outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the drain thread (at app shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        self.lease.close()
