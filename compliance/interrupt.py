"""Ctrl-C during an erasure run: finish the request at hand, start no other, say what is done.

The first SIGINT only asks the run to stop: the request being erased is finished (its transaction
commits or not, never half), no further request is started, and the requests already erased are
rewritten and verified as usual. A second SIGINT stops at once (KeyboardInterrupt): requests already
erased stay `erasing` and the next run rewrites and verifies them; nothing is reported failed.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any


class StopFlag:
    """Set by the first Ctrl-C; checked between requests."""

    def __init__(self) -> None:
        self.requested = False

    def request(self) -> None:
        """Ask the run to stop after the request at hand."""
        self.requested = True


@contextmanager
def stop_on_interrupt(flag: StopFlag | None = None) -> Iterator[StopFlag]:
    """Within the block the first SIGINT sets the flag, the second raises KeyboardInterrupt."""
    flag = flag or StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers belong to the main thread; elsewhere Ctrl-C behaves as before
        return

    def handler(signum: int, frame: FrameType | None) -> Any:
        if flag.requested:
            raise KeyboardInterrupt
        flag.request()
        print(
            "\nstopping after the request at hand; erased requests are verified before the run ends "
            "(Ctrl-C again to stop now: the next run finishes and verifies them)",
            file=sys.stderr,
            flush=True,
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
