"""Shared Prefect wiring: settings for a run, store-busy retries, artifacts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from idres.settings import Settings, load_settings
from store import StoreBusyError


def run_settings(store: str | None) -> Settings:
    """Settings for one flow run: env and config file, with the run's store parameter on top."""
    return load_settings(store=Path(store) if store else None)


def retry_when_busy(task: Any, old_state: Any, new_state: Any) -> bool:
    """Retry a task only when the store was busy; bad input fails at once (retrying cannot help)."""
    try:
        new_state.result()
    except StoreBusyError:
        return True
    except Exception:
        return False
    return False


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A markdown table for Prefect artifacts (cells are escaped for pipes)."""

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
