"""Login throttling: growing waits after failed logins, per account and per client (IP address).

A few failures are free (typos); after that each further failure doubles the wait before the next
attempt of that account, or from that client, is even checked (1 s, 2 s, 4 s, ... up to 15 min).
An attempt during the wait is refused with 429 and the number of seconds, without checking the
password, so guessing cannot go faster than the waits. A success clears its account's count (not
the client's: logging into one's own account must not reset a guessing run). Counts are kept in
the web process and forgotten after an hour without failures; every failure and refusal is audited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Failed-login counts and the waits they impose."""

    def __init__(
        self,
        free_per_account: int = 3,
        free_per_client: int = 10,
        base_s: float = 1.0,
        max_s: float = 900.0,
        forget_s: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = {"account": free_per_account, "client": free_per_client}
        self.base_s, self.max_s, self.forget_s = base_s, max_s, forget_s
        self._clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    def _delay(self, kind: str, count: int) -> float:
        over = count - self.free[kind]  # failures beyond the free ones
        return 0.0 if over <= 0 else min(self.base_s * 2.0 ** (over - 1), self.max_s)

    def _wait(self, key: tuple[str, str], now: float) -> float:
        entry = self._failures.get(key)
        if entry is None:
            return 0.0
        if now - entry.last > max(self.forget_s, self._delay(key[0], entry.count)):
            del self._failures[key]
            return 0.0
        return max(0.0, entry.last + self._delay(key[0], entry.count) - now)

    def wait_s(self, account: str, client: str) -> float:
        """Seconds before an attempt for `account` from `client` is checked (0: go ahead)."""
        with self._lock:
            now = self._clock()
            return max(self._wait(("account", account.lower()), now), self._wait(("client", client), now))

    def failed(self, account: str, client: str) -> tuple[int, float]:
        """Count a failed attempt; returns the account's failures and the wait it now imposes."""
        with self._lock:
            now = self._clock()
            for key in (("account", account.lower()), ("client", client)):
                entry = self._failures.get(key)
                if entry is None or now - entry.last > self.forget_s:
                    entry = self._failures[key] = _Failures(0, now)
                entry.count += 1
                entry.last = now
            count = self._failures[("account", account.lower())].count
            return count, max(
                self._wait(("account", account.lower()), now), self._wait(("client", client), now)
            )

    def succeeded(self, account: str) -> None:
        """Clear an account's failures after a successful login."""
        with self._lock:
            self._failures.pop(("account", account.lower()), None)
