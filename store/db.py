"""The one owner of the DuckDB customer store: connections, migrations, transactions, all SQL.

Every statement goes through `Store.execute`/`Store.frame`, so every failure is a `StoreError`
that carries the failing statement. DuckDB lets one process write a file at a time; `open_store`
waits (up to the busy timeout) for another process to let go instead of failing at once.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from domain.errors import Busy, IdresError
from store.schema import migrations, personal_data, schema_version


class StoreError(IdresError, RuntimeError):
    """A store operation failed; `statement` is the SQL that failed (if any)."""

    def __init__(self, message: str, statement: str | None = None) -> None:
        self.statement = statement
        detail = f"{message}\n  in statement: {_shorten(statement)}" if statement else message
        super().__init__(detail)


class StoreBusyError(StoreError, Busy):
    """Another process held the store for longer than the busy timeout."""


def _shorten(statement: str | None, limit: int = 400) -> str:
    text = " ".join((statement or "").split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def utcnow() -> datetime:
    """Naive UTC now: the store keeps TIMESTAMP (without time zone) columns in UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


def _is_lock_error(error: Exception) -> bool:
    text = str(error)
    return "Could not set lock" in text or "Conflicting lock" in text or "database is locked" in text


class Store:
    """An open connection to the customer store."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path, read_only: bool) -> None:
        self.connection = connection
        self.path = path
        self.read_only = read_only
        self._in_transaction = False

    # -- statements ---------------------------------------------------------------------------
    def _run(
        self, statement: str, params: Sequence[Any] | dict[str, Any] | None
    ) -> duckdb.DuckDBPyConnection:
        try:
            if params is None:
                return self.connection.execute(statement)
            return self.connection.execute(statement, params)
        except duckdb.Error as error:
            raise StoreError(f"store statement failed: {error}", statement) from error

    def execute(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> None:
        """Run one statement to its end; failures become `StoreError` naming the statement."""
        result = self._run(statement, params)
        try:
            result.complete()
        except duckdb.Error as error:
            raise StoreError(f"store statement failed: {error}", statement) from error

    def frame(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pl.DataFrame:
        """Run a query and return its rows as a polars frame."""
        try:
            relation = self.connection.sql(statement, params=params)
            if relation is None:
                return pl.DataFrame()
            return relation.pl()
        except duckdb.Error as error:
            raise StoreError(f"store query failed: {error}", statement) from error

    def rows(
        self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Run a query and return its rows as dicts."""
        result = self._run(statement, params)
        try:
            columns = [column[0] for column in result.description or []]
            return [dict(zip(columns, row, strict=True)) for row in result.fetchall()]
        except duckdb.Error as error:
            raise StoreError(f"store query failed: {error}", statement) from error

    def scalar(self, statement: str, params: Sequence[Any] | dict[str, Any] | None = None) -> Any:
        """Run a query and return the first column of its first row (None when empty)."""
        result = self._run(statement, params)
        try:
            rows = result.fetchall()
        except duckdb.Error as error:
            raise StoreError(f"store query failed: {error}", statement) from error
        return rows[0][0] if rows else None

    @contextmanager
    def registered(self, name: str, frame: pl.DataFrame) -> Iterator[str]:
        """Expose a polars frame to SQL under `name` for the duration of the block."""
        try:
            self.connection.register(name, frame.to_arrow())
        except duckdb.Error as error:
            raise StoreError(f"could not register frame {name}: {error}") from error
        try:
            yield name
        finally:
            self.connection.unregister(name)

    def next_id(self, table: str, column: str) -> int:
        """The next free id of a table (callers hold the write transaction, so no race)."""
        return int(self.scalar(f"SELECT coalesce(max({column}), 0) + 1 FROM {table}"))

    # -- transactions -------------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        """Whether a `transaction()` block is open on this connection."""
        return self._in_transaction

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All or nothing: commit at the end of the block, roll back on any exception (Ctrl-C too).

        An exception with a true `commit_writes` attribute commits instead (then propagates): it is a
        refusal that recorded why, and the record must survive any enclosing transaction.
        """
        if self._in_transaction:
            yield self
            return
        self.execute("BEGIN TRANSACTION")
        self._in_transaction = True
        try:
            yield self
        except BaseException as error:
            self._in_transaction = False
            if getattr(error, "commit_writes", False):
                # a refusal whose bookkeeping must stay (e.g. a suggestion marked superseded): the
                # writes made so far are kept, then the refusal reaches the caller
                self.execute("COMMIT")
                raise
            # DuckDB may have aborted the transaction itself already; then there is nothing to undo
            with suppress(duckdb.Error):
                self.connection.execute("ROLLBACK")
            raise
        self._in_transaction = False
        self.execute("COMMIT")

    def overwrite(self, table: str, key: str, frame: pl.DataFrame, columns: Sequence[str]) -> int:
        """Overwrite `columns` of the rows of `table` whose `key` is in `frame` with the frame's values.

        For the module that owns `table` only (an erasure writes through each owner).
        """
        columns = [c for c in columns if c != key and c in frame.columns]
        if frame.height == 0 or not columns:
            return 0
        types = {row["column_name"]: row["data_type"] for row in self.rows(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [table]
        )}  # fmt: skip
        assignments = ", ".join(f"{c} = CAST(f.{c} AS {types[c]})" for c in columns)
        with self.registered("overwritten_rows", frame.select(key, *columns)):
            self.execute(
                f"UPDATE {table} SET {assignments} FROM overwritten_rows f WHERE {table}.{key} = f.{key}"
            )
        return frame.height

    def overwrite_audit_details(self, frame: pl.DataFrame) -> int:
        """Overwrite the details of audit entries (audit_id, details): an erasure scrubs them."""
        return self.overwrite("audit_log", "audit_id", frame, ["details"])

    def audit(
        self, actor: str, action: str, subject_kind: str, subject_id: Any, details: dict[str, Any]
    ) -> int:
        """Append one audit entry (callers keep personal data out of `details` where the law asks)."""
        audit_id = self.next_id("audit_log", "audit_id")
        self.execute(
            "INSERT INTO audit_log VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                audit_id,
                utcnow(),
                actor,
                action,
                subject_kind,
                None if subject_id is None else str(subject_id),
                json.dumps(details, default=str),
            ],
        )
        return audit_id

    # -- schema -------------------------------------------------------------------------------
    def current_version(self) -> int:
        """The schema version recorded in the store (0 for a new file)."""
        exists = self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        )
        if not exists:
            return 0
        return int(self.scalar("SELECT coalesce(max(version), 0) FROM schema_migrations"))

    def migrate(self) -> list[int]:
        """Apply the migrations this store has not seen yet; returns the versions applied."""
        current = self.current_version()
        if current > schema_version():
            raise StoreError(
                f"store {self.path} is at schema version {current}, newer than this idres "
                f"({schema_version()}); upgrade idres"
            )
        pending = [migration for migration in migrations() if migration.version > current]
        if not pending:
            return []
        with self.transaction():
            self.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, description VARCHAR, applied_at TIMESTAMP)"
            )
            for migration in pending:
                for statement in migration.statements:
                    self.execute(statement)
                self.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                    [migration.version, migration.description, utcnow()],
                )
            self._record_personal_data()
        return [migration.version for migration in pending]

    def _record_personal_data(self) -> None:
        self.execute("DELETE FROM personal_data_columns")
        for table, columns in personal_data().items():
            for column, category in columns.items():
                self.execute("INSERT INTO personal_data_columns VALUES (?, ?, ?)", [table, column, category])
                self.execute(f"COMMENT ON COLUMN {table}.{column} IS 'personal data: {category}'")

    def close(self) -> None:
        """Close the connection (releases the file lock)."""
        self.connection.close()


def private_dir(path: Path) -> Path:
    """Create a folder for personal data (mode 0700, parents too); an existing one is left as it is."""
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    for folder in reversed(missing):
        with suppress(FileExistsError):
            folder.mkdir(mode=0o700)
    return path


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in the folder durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def opening_lock(path: Path, exclusive: bool = False) -> Iterator[None]:
    """The lock taken (shared) while a process opens the store, and (exclusive) while a rewrite swaps it.

    A rewrite closes its connection and renames a new file over the store; without this lock another
    process could open the old file in between and write into a file that is about to disappear.
    """
    lock_path = path.with_name(f".{path.name}.lock")
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        if exclusive:
            raise
        yield  # a read-only folder: nobody can rewrite the store there either
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def connect(path: Path, read_only: bool = False, busy_timeout_s: float = 30.0) -> Store:
    """Open the store file, waiting up to `busy_timeout_s` while another process holds its lock.

    A new store file is made private (0600, in a 0700 folder when idres creates the folder).
    """
    path = Path(path)
    if not read_only:
        private_dir(path.parent)
    elif not path.exists():
        raise StoreError(f"no store at {path}: run `idres ingest` first (or pass --store)")
    deadline = time.monotonic() + busy_timeout_s
    delay = 0.02
    while True:
        try:
            with opening_lock(path):
                created = not path.exists()
                connection = duckdb.connect(str(path), read_only=read_only)
                if created:
                    os.chmod(path, 0o600)
            return Store(connection, path, read_only)
        except duckdb.Error as error:
            if not _is_lock_error(error):
                raise StoreError(f"could not open store {path}: {error}") from error
            if time.monotonic() >= deadline:
                raise StoreBusyError(
                    f"store {path} is busy: another idres process is writing to it "
                    f"(waited {busy_timeout_s:.0f} s). Try again when it finishes."
                ) from error
            time.sleep(delay)
            delay = min(delay * 2, 0.5)


@contextmanager
def open_store(path: Path, read_only: bool = False, busy_timeout_s: float = 30.0) -> Iterator[Store]:
    """Open (and, when writable, migrate) the store for the duration of the block."""
    store = connect(path, read_only=read_only, busy_timeout_s=busy_timeout_s)
    try:
        if not read_only:
            store.migrate()
        elif store.current_version() < schema_version():
            raise StoreError(f"store {path} needs migrating: run any writing command (e.g. `idres status`)")
        yield store
    finally:
        store.close()
