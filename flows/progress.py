"""Progress for long CLI work: a live Rich bar with phases on stderr, silent for scripts.

The command opens it; the code doing the work (flows, helpers) reports through `current()` without
knowing whether anybody watches:

    with cli_progress("ingest", enabled=not quiet and fmt == OutputFormat.text) as progress:
        ...                                   # inside the flow:
        current().start("files", total=3)     # a bar with a known length
        current().advance("identities.csv")   # one step done
        current().phase("matching")           # or a spinner phase without a length

While the bar is live, Prefect's console logging shows warnings and errors only, printed above
the bar (the full log stays with the flow run), so the two do not garble each other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)


class Tracker:
    """What work reports to; this base class ignores everything (nobody is watching)."""

    def start(self, label: str, total: int | None = None) -> None:
        """Begin a step of `total` units (a spinner when the total is unknown)."""

    def advance(self, note: str | None = None, amount: int = 1) -> None:
        """Count `amount` units of the current step as done, optionally naming the last one."""

    def phase(self, label: str) -> None:
        """Begin a phase without a known length (shown with a spinner and elapsed time)."""

    @property
    def phases(self) -> list[tuple[str, float]]:
        """(label, seconds) of every finished step or phase, in order."""
        return []


class RichTracker(Tracker):
    """A Rich progress display: one line per step or phase, the current one live."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._task: TaskID | None = None
        self._label = ""
        self._began = time.perf_counter()
        self._done: list[tuple[str, float]] = []

    def _finish_current(self) -> None:
        if self._task is None:
            return
        task = self._progress.tasks[self._task]
        if task.total is None:
            self._progress.update(self._task, total=1, completed=1)
        else:
            self._progress.update(self._task, completed=task.total)
        self._done.append((self._label, time.perf_counter() - self._began))
        self._task = None

    def start(self, label: str, total: int | None = None) -> None:
        """Begin a step of `total` units (a spinner when the total is unknown)."""
        self._finish_current()
        self._label, self._began = label, time.perf_counter()
        self._task = self._progress.add_task(label, total=total)

    def advance(self, note: str | None = None, amount: int = 1) -> None:
        """Count `amount` units of the current step as done, optionally naming the last one."""
        if self._task is None:
            self.start("working")
        assert self._task is not None
        description = f"{self._label}: {note}" if note else self._label
        self._progress.update(self._task, advance=amount, description=description)

    def phase(self, label: str) -> None:
        """Begin a phase without a known length (shown with a spinner and elapsed time)."""
        self.start(label, total=None)

    def close(self) -> None:
        """Mark the last step done."""
        self._finish_current()

    @property
    def phases(self) -> list[tuple[str, float]]:
        """(label, seconds) of every finished step or phase, in order."""
        return list(self._done)


_NOBODY = Tracker()
_current: Tracker = _NOBODY


def current() -> Tracker:
    """The tracker of the command that is running, or one that ignores everything."""
    return _current


@contextmanager
def _prefect_console_to(console: Console, level: int) -> Iterator[None]:
    """Print Prefect's console logs through `console` (above the live bar) at `level` and up."""
    try:
        from prefect.logging.handlers import PrefectConsoleHandler
    except ImportError:  # pragma: no cover - prefect is a dependency
        yield
        return
    loggers = [logging.getLogger(), *(logging.getLogger(name) for name in logging.root.manager.loggerDict)]
    saved: list[tuple[Any, Console, int]] = []
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler) and all(handler is not h for h, _, _ in saved):
                saved.append((handler, handler.console, handler.level))
                handler.console = console
                handler.setLevel(max(handler.level, level))
    try:
        yield
    finally:
        for handler, old_console, old_level in saved:
            handler.console = old_console
            handler.setLevel(old_level)


@contextmanager
def cli_progress(title: str, *, enabled: bool = True, console: Console | None = None) -> Iterator[Tracker]:
    """Show live progress for the block on stderr when `enabled` (not for `--quiet` or `--format json`)."""
    global _current
    if not enabled:
        previous, _current = _current, _NOBODY
        try:
            yield _NOBODY
        finally:
            _current = previous
        return
    console = console or Console(stderr=True)
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,  # the command prints its own summary when the work is done
    )
    tracker = RichTracker(progress)
    previous, _current = _current, tracker
    try:
        with progress, _prefect_console_to(console, logging.WARNING):
            tracker.phase(title)  # a spinner until the work names its own steps
            yield tracker
            tracker.close()
    finally:
        _current = previous


def phase_summary(tracker: Tracker) -> str:
    """One line of the steps done and how long each took, e.g. `read 0.4 s, match 2.1 s`."""
    return ", ".join(f"{label} {seconds:.1f} s" for label, seconds in tracker.phases)
