"""Ctrl-C (or SIGTERM) during a run: finish the step at hand, start no other, say what is done.

Used by the erasure run and the ingest flow. The first SIGINT or SIGTERM only asks the run to stop:
the request being erased (the file being loaded) is finished (its transaction commits or not, never
half), nothing further is started, and what was done is reported as usual. A second signal stops at
once (KeyboardInterrupt): for erasure, requests already erased stay `erasing` and the next run
rewrites and verifies them; nothing is reported failed.

SIGTERM is treated as Ctrl-C because a service manager, `timeout` or a container runtime stops a
command with it: the run should end the same clean way, not be cut at a random statement. Within the
block these handlers replace Prefect's own SIGTERM bridge (which raises at any statement, and a
DuckDB query turns that into an ordinary "Query interrupted" error the run would carry on after).
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
ERASURE_STOPPING = (
    "stopping after the request at hand; erased requests are verified before the run ends "
    "(Ctrl-C again to stop now: the next run finishes and verifies them)"
)


class StopFlag:
    """Set by the first Ctrl-C or SIGTERM; checked between requests (or files)."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int | None = None

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask the run to stop after the step at hand."""
        self.requested = True
        self.signum = self.signum or signum

    @property
    def signal_name(self) -> str:
        """SIGINT or SIGTERM: the signal that asked for the stop."""
        return signal.Signals(self.signum or signal.SIGINT).name

    @property
    def exit_code(self) -> int:
        """The shell's code for a command stopped by that signal: 130 (SIGINT), 143 (SIGTERM)."""
        return 128 + int(self.signum or signal.SIGINT)


@contextmanager
def stop_on_interrupt(flag: StopFlag | None = None, message: str = ERASURE_STOPPING) -> Iterator[StopFlag]:
    """Within the block the first SIGINT/SIGTERM sets the flag (saying `message`), the second raises KeyboardInterrupt."""
    flag = flag or StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers belong to the main thread; elsewhere Ctrl-C behaves as before
        return

    def handler(signum: int, frame: FrameType | None) -> Any:
        if flag.requested:
            raise KeyboardInterrupt
        flag.request(signum)
        print(f"\n{signal.Signals(signum).name}: {message}", file=sys.stderr, flush=True)

    previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
