"""The page's shared store connection: released when idle, and never held so long that a flow starves."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

from idres.settings import Settings
from store import open_store
from web.lease import Lease

ROOT = Path(__file__).resolve().parents[2]


def test_connection_is_shared_then_released_when_idle(settings: Settings) -> None:
    with open_store(settings.store):
        pass
    lease = Lease(settings.store, idle_s=0.1, max_s=5.0, gap_s=0.5)
    with lease.store(1.0) as first, lease.store(1.0) as second:
        assert first.scalar("SELECT 42") == 42 and second.scalar("SELECT count(*) FROM customers") == 0
    assert lease._store is not None  # kept for the next request
    time.sleep(0.4)
    assert lease._store is None  # idle: the file is free again
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
