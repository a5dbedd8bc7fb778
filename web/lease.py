"""One DuckDB connection the page's requests share for a short while, so pages render from a warm cache.

A fresh connection per request costs a file open and a cold buffer pool (tens of milliseconds per
query on a large store). Holding one forever would lock the flows out. So the lease:
- opens the store on first use and hands each request its own cursor (own transaction);
- closes it after `idle_s` without requests;
- closes it after `max_s` even under steady traffic, then keeps it closed for `gap_s` (longer than
  the 0.5 s a waiting flow sleeps between attempts, see `store.db.connect`), so a flow that is
  waiting always gets the file within `max_s + gap_s`. Requests in the gap wait, they do not fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from store import Store, StoreBusyError
from store.db import connect


class Lease:
    """A briefly held, shared store connection with a cursor per request."""

    def __init__(
        self,
        path: Path,
        idle_s: float = 0.5,
        max_s: float = 8.0,
        gap_s: float = 0.6,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.idle_s, self.max_s, self.gap_s = idle_s, max_s, gap_s
        self._clock = clock  # the time the holding rules are measured in (a test steps its own)
        self._cond = threading.Condition()
        self._store: Store | None = None
        self._opened_at = 0.0
        self._last_used = 0.0
        self._users = 0
        self._opening = False
        self._closed_until = 0.0
        self._reaper: threading.Thread | None = None
        self._memo: dict[str, Any] = {}  # answers kept while the current connection stays open

    @contextmanager
    def store(self, wait_s: float) -> Iterator[Store]:
        """A cursor on the shared connection; StoreBusyError when the file stays busy for `wait_s`."""
        shared = self._acquire(self._clock() + wait_s)
        cursor = Store(shared.connection.cursor(), self.path, read_only=False)
        try:
            yield cursor
        finally:
            cursor.close()
            with self._cond:
                self._users -= 1
                self._last_used = self._clock()
                self._cond.notify_all()

    def remembered(self, key: str, compute: Callable[[], Any]) -> Any:
        """`compute()` once per connection (call it with a cursor open): for what only a flow can change.

        While this process holds the file no flow can write to it, so an answer that the page's own
        actions never change (the channels present) stays right until the connection closes.
        """
        with self._cond:
            if key in self._memo:
                return self._memo[key]
        value = compute()
        with self._cond:
            self._memo[key] = value
        return value

    def _expired(self, now: float) -> bool:
        return self._store is not None and now - self._opened_at >= self.max_s

    def _acquire(self, deadline: float) -> Store:
        while True:
            with self._cond:
                now = self._clock()
                if self._store is not None and not self._expired(now):
                    self._users += 1
                    return self._store
                if self._store is None and not self._opening and now >= self._closed_until:
                    self._opening = True
                    break
                if now >= deadline:
                    raise StoreBusyError(f"store {self.path} is busy: a scheduled run is writing to it")
                # expired (closing once its users finish), in the gap, or another request is opening it
                self._cond.wait(timeout=min(0.05, deadline - now))
        try:
            opened = connect(self.path, busy_timeout_s=max(0.0, deadline - self._clock()))
        except BaseException:
            with self._cond:
                self._opening = False
                self._cond.notify_all()
            raise
        with self._cond:
            self._store, self._opening = opened, False
            self._memo = {}
            self._opened_at = self._last_used = self._clock()
            self._users += 1
            self._cond.notify_all()
            self._start_reaper()
        return opened

    def _start_reaper(self) -> None:
        if self._reaper is None or not self._reaper.is_alive():
            self._reaper = threading.Thread(target=self._reap, name="idres-web-lease", daemon=True)
            self._reaper.start()

    def _reap(self) -> None:
        """Close the connection when idle or held too long (runs while one is open)."""
        while True:
            with self._cond:
                if self._store is None:
                    self._reaper = None
                    return
                now = self._clock()
                idle = self._users == 0 and now - self._last_used >= self.idle_s
                if self._users == 0 and (idle or self._expired(now)):
                    self._store.close()
                    self._store = None
                    self._memo = {}
                    self._closed_until = now if idle else now + self.gap_s
                    self._cond.notify_all()
                    self._reaper = None
                    return
                self._cond.wait(timeout=0.05)

    def close(self) -> None:
        """Close the connection now (app shutdown), waiting for requests still using it."""
        with self._cond:
            deadline = time.monotonic() + 10  # shutdown waits in real time, whatever the clock
            while self._users and time.monotonic() < deadline:
                self._cond.wait(timeout=0.05)
            if self._store is not None:
                self._store.close()
                self._store = None
            self._memo = {}
            self._cond.notify_all()
