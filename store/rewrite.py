"""Physical erasure of the store file: copy the live database into a fresh file and swap it in.

DuckDB never overwrites freed or updated blocks: after an UPDATE the old values stay readable in the
file (`grep -a` finds them), and neither CHECKPOINT nor VACUUM changes that. A fresh copy holds only
live rows, so the store is rewritten after every run that erased anyone:

1. CHECKPOINT, ATTACH a new file next to the store, `COPY FROM DATABASE` (tables, constraints,
   indexes, sequences and column comments), CHECKPOINT and DETACH it, fsync it;
2. under the opening lock (`opening_lock`: every `store.connect` takes it shared while it opens the
   file, so no other idres process can slip in between) close this connection, rename the copy over
   the store (atomic), fsync the folder, reconnect and check that the connection sees the new file;
3. overwrite the old file's blocks with zeros through a descriptor kept open (best effort: on
   copy-on-write filesystems or SSDs the device may keep old blocks; whole-disk encryption covers that).

A crash before the rename leaves the old store untouched (and a stray copy, removed by the next
rewrite); after it, the new one. Either way nothing is half written.

Reading the store file's bytes (the erasure verification does) must not happen while this process has
it open: closing any descriptor of a file drops every fcntl lock the process holds on it, DuckDB's
writer lock among them, and another process (the web page) would then open and write the store
beside this one, and one side's writes are lost. `bytes_readable` closes the connection meanwhile.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from store.db import Store, StoreError, fsync_dir, opening_lock

COPY_PREFIX = ".rewrite-"
_ZEROS = bytes(8 << 20)


@dataclass
class RewriteReport:
    """What a rewrite did: sizes before and after, and seconds per phase."""

    bytes_before: int
    bytes_after: int
    copy_s: float
    swap_s: float
    shred_s: float


def stray_copies(path: Path) -> list[Path]:
    """Copies left by a rewrite that was killed before its rename (they hold the erased state only)."""
    return sorted(path.parent.glob(f".{path.name}{COPY_PREFIX}*"))


@contextmanager
def bytes_readable(store: Store) -> Iterator[None]:
    """Close the store's connection for the block (under the exclusive opening lock: nobody opens it
    meanwhile), so that its file can be read as bytes without dropping DuckDB's lock; then reopen it."""
    if store.in_transaction:
        raise StoreError("the store file cannot be read as bytes inside a transaction")
    with opening_lock(store.path, exclusive=True):
        store.connection.close()
        try:
            yield
        finally:
            store.connection = duckdb.connect(str(store.path), read_only=store.read_only)


def _fsync_file(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def rewrite_store(store: Store, on_step: Callable[[str], None] | None = None) -> RewriteReport:
    """Rewrite the store into a fresh file holding only live data and swap it in (see module doc)."""
    if store.in_transaction:
        raise StoreError("the store cannot be rewritten inside a transaction")
    step = on_step or (lambda name: None)
    path = store.path
    for stray in stray_copies(path):
        for leftover in (stray, stray.with_name(stray.name + ".wal")):
            leftover.unlink(missing_ok=True)
    fresh = path.with_name(f".{path.name}{COPY_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}")
    token = uuid.uuid4().hex
    bytes_before = path.stat().st_size
    began = time.perf_counter()
    try:
        _copy(store, fresh, token)
        step("rewrite:copied")
        copied = time.perf_counter()
        with opening_lock(path, exclusive=True):
            old = _swap(store, path, fresh, token)
        try:
            swapped = time.perf_counter()
            step("rewrite:swapped")
            _shred(old)
        finally:
            os.close(old)
    finally:
        for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
            leftover.unlink(missing_ok=True)
    done = time.perf_counter()
    return RewriteReport(
        bytes_before=bytes_before,
        bytes_after=path.stat().st_size,
        copy_s=round(copied - began, 3),
        swap_s=round(swapped - copied, 3),
        shred_s=round(done - swapped, 3),
    )


def _copy(store: Store, fresh: Path, token: str) -> None:
    catalog = str(store.scalar("SELECT current_database()")).replace('"', '""')
    store.execute("CHECKPOINT")
    store.execute(f"ATTACH {_quote(fresh)} AS idres_rewrite")
    try:
        os.chmod(fresh, 0o600)
        store.execute(f'COPY FROM DATABASE "{catalog}" TO idres_rewrite')
        # proves, after the swap, that the new connection reads the new file (see `_swap`)
        store.execute(f"CREATE TABLE idres_rewrite.idres_rewrite_token AS SELECT '{token}' AS token")
        store.execute("CHECKPOINT idres_rewrite")
    finally:
        store.execute("DETACH idres_rewrite")
    _fsync_file(fresh)


def _swap(store: Store, path: Path, fresh: Path, token: str) -> int:
    """Swap the copy in; returns a descriptor of the old file (for `_shred`)."""
    store.connection.close()
    try:
        # DuckDB shares one database per file within a process: if another connection of this process
        # still has it open, reconnecting would give back the old file. A read-only probe fails then.
        duckdb.connect(str(path), read_only=True).close()
    except duckdb.Error as error:
        store.connection = duckdb.connect(str(path))
        raise StoreError(
            f"store {path} is open elsewhere in this process: close other connections before a rewrite ({error})"
        ) from error
    # opened only now that DuckDB let go of the file: closing a descriptor drops this process's fcntl
    # locks on the file, so it must not be open while a DuckDB database of this process holds it
    old = os.open(path, os.O_RDWR)
    try:
        os.replace(fresh, path)
        fsync_dir(path.parent)
        # a WAL beside the store can only be the old file's (checkpointed, so empty): never replay it
        path.with_name(path.name + ".wal").unlink(missing_ok=True)
        store.connection = duckdb.connect(str(path))
        seen = store.scalar("SELECT token FROM idres_rewrite_token")
        if seen != token:
            raise StoreError(f"store {path} was not swapped: the connection reads another file")
        store.execute("DROP TABLE idres_rewrite_token")
        store.execute("CHECKPOINT")
    except BaseException:
        os.close(old)
        raise
    return old


def _shred(descriptor: int) -> None:
    size = os.fstat(descriptor).st_size
    os.lseek(descriptor, 0, os.SEEK_SET)
    written = 0
    while written < size:
        written += os.write(descriptor, _ZEROS[: min(len(_ZEROS), size - written)])
    with suppress(OSError):
        os.fsync(descriptor)
