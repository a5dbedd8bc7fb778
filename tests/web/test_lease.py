"""The page's shared store connection: released when idle, and never held so long that a flow starves."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from domain.settings import Settings
from store import StoreBusyError, open_store
from web.lease import Lease

ROOT = Path(__file__).resolve().parents[2]


class SteppedClock:
    """A clock that moves only when the test says so: the lease's holding rules without sleeping."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _released(lease: Lease, timeout_s: float = 10.0) -> bool:
    """Wait (in real time, generously) for the lease's reaper to close the connection."""
    deadline = time.monotonic() + timeout_s
    with lease._cond:
        while lease._store is not None and time.monotonic() < deadline:
            lease._cond.wait(timeout=0.05)
        return lease._store is None


def test_connection_is_shared_then_released_when_idle(settings: Settings) -> None:
    with open_store(settings.store):
        pass
    clock = SteppedClock()
    lease = Lease(settings.store, idle_s=0.5, max_s=5.0, gap_s=0.5, clock=clock)
    with lease.store(1.0) as first, lease.store(1.0) as second:
        assert first.scalar("SELECT 42") == 42 and second.scalar("SELECT count(*) FROM customers") == 0
    assert not _released(lease, timeout_s=0.3)  # kept for the next request while not idle long enough
    clock.now += 0.4
    assert not _released(lease, timeout_s=0.3)
    with lease.store(1.0) as again:  # a request inside the idle window reuses it and restarts the wait
        assert again.scalar("SELECT 1") == 1
    clock.now += 0.4
    assert not _released(lease, timeout_s=0.3)
    clock.now += 0.2
    assert _released(lease)  # idle for idle_s: the file is free again
    lease.close()


def test_a_connection_held_too_long_closes_and_stays_closed_for_the_gap(settings: Settings) -> None:
    with open_store(settings.store):
        pass
    clock = SteppedClock()
    lease = Lease(settings.store, idle_s=3.0, max_s=2.0, gap_s=0.5, clock=clock)
    for _ in range(4):  # steady traffic for max_s: never idle
        with lease.store(1.0) as store:
            store.scalar("SELECT 1")
        clock.now += 0.5
    assert _released(lease)  # held max_s: closed although requests keep coming
    with pytest.raises(StoreBusyError), lease.store(0.0):  # in the gap, a request that cannot wait
        pass
    clock.now += 0.5
    with lease.store(1.0) as store:  # after the gap it opens again
        assert store.scalar("SELECT 1") == 1
    lease.close()


def test_a_waiting_flow_gets_the_store_under_steady_page_traffic(settings: Settings) -> None:
    with open_store(settings.store):
        pass
    lease = Lease(settings.store, idle_s=0.5, max_s=0.5, gap_s=0.6)
    code = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from store.db import connect
        print("ready", flush=True)
        began = time.monotonic()
        store = connect(Path({str(settings.store)!r}), busy_timeout_s=20)
        print(round(time.monotonic() - began, 2), flush=True)
        time.sleep(0.3)
        store.close()
        """
    )
    with lease.store(1.0) as store:  # the page holds the file when the flow starts waiting
        store.scalar("SELECT 1")
        child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=ROOT)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    answered, busy = 0, 0
    deadline = time.monotonic() + 15
    while child.poll() is None and time.monotonic() < deadline:  # pages keep coming, back to back
        try:
            with lease.store(5.0) as store:
                answered += store.scalar("SELECT 1")
        except Exception:
            busy += 1
    waited = float(child.stdout.readline())
    assert child.wait(timeout=10) == 0
    assert waited < 3.0, f"the flow waited {waited} s for the store"
    assert answered > 0 and busy == 0
    lease.close()


def test_a_remembered_answer_lasts_as_long_as_its_connection(settings: Settings) -> None:
    with open_store(settings.store):
        pass
    clock = SteppedClock()
    lease = Lease(settings.store, idle_s=0.5, max_s=5.0, gap_s=0.5, clock=clock)
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(calls)

    with lease.store(1.0):
        assert lease.remembered("k", compute) == 1
    with lease.store(1.0):
        assert lease.remembered("k", compute) == 1  # same connection: not computed again
    clock.now += 0.6
    assert _released(lease)
    with lease.store(1.0):  # a new connection (a flow may have written meanwhile): computed again
        assert lease.remembered("k", compute) == 2
    lease.close()
