"""The CLI progress helper: phases are tracked when shown, and nothing happens when silenced."""

from __future__ import annotations

import io
import logging

from rich.console import Console

from flows.progress import RichTracker, Tracker, cli_progress, current, phase_summary


def test_silenced_progress_tracks_nothing() -> None:
    with cli_progress("work", enabled=False) as tracker:
        assert current() is tracker
        current().start("files", total=2)
        current().advance("a.csv")
        assert tracker.phases == []
    assert type(current()) is Tracker


def test_live_progress_records_phases_and_restores_the_tracker() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=100)
    outer = current()
    with cli_progress("ingest", console=console) as tracker:
        assert isinstance(tracker, RichTracker) and current() is tracker
        current().start("files", total=2)
        current().advance("a.csv")
        current().advance("b.csv")
        current().phase("publishing")
    assert current() is outer
    assert [label for label, _ in tracker.phases] == ["ingest", "files", "publishing"]
    assert phase_summary(tracker).startswith("ingest ") and "publishing" in phase_summary(tracker)


def test_prefect_console_logs_go_above_the_bar_and_only_warnings(caplog: object) -> None:
    from prefect.logging.handlers import PrefectConsoleHandler

    handler = PrefectConsoleHandler()
    logger = logging.getLogger("idres.test.progress")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    original_console, original_level = handler.console, handler.level
    out = io.StringIO()
    try:
        with cli_progress("work", console=Console(file=out, force_terminal=False, width=100)):
            assert handler.console is not original_console and handler.level == logging.WARNING
            logger.info("chatty detail")
            logger.warning("store busy, retrying")
        assert handler.console is original_console and handler.level == original_level
    finally:
        logger.removeHandler(handler)
    assert "store busy, retrying" in out.getvalue() and "chatty detail" not in out.getvalue()
