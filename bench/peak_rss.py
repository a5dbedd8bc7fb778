"""Peak resident memory of this process, sampled in a thread (DuckDB and polars allocate outside Python).

Shared by the benchmark scripts; the Splink runner imports it too, from its own venv (psutil only).
"""

from __future__ import annotations

import threading

import psutil


class PeakRss:
    """Samples this process's RSS every 20 ms in a thread (DuckDB allocates outside Python)."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.start = self.peak = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.proc.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)
