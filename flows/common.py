"""Shared Prefect wiring: settings for a run, store-busy retries, failure messages, artifacts.

Store tasks are declared as
`@task(cache_policy=NO_CACHE, retries=STORE_RETRIES, retry_delay_seconds=STORE_RETRY_DELAYS_S,
retry_condition_fn=retry_when_busy)`: only a busy store is retried (another process will let go);
a user error or a broken store fails at once, with a message saying what to do (`explain_failure`);
anything else is a bug and fails with its own traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from domain.errors import Busy, UserError
from domain.settings import Settings, load_settings
from store import StoreBusyError, StoreError

STORE_RETRIES = 3
# waits between attempts (each attempt itself waits up to `store_busy_timeout_s` for the lock)
STORE_RETRY_DELAYS_S: list[float] = [5.0, 15.0, 30.0]


class StoreBusyFailure(Busy, RuntimeError):
    """A flow gave up because another process kept the store busy through every retry."""


class StoreFailure(UserError, RuntimeError):
    """A flow stopped on a broken store (disk full, permissions, a failed statement): said, with what to check."""


class RequestsFailed(UserError, RuntimeError):
    """A compliance run finished, but some requests failed (each recorded with its reason)."""


class FlowInputError(UserError, ValueError):
    """A flow stopped on a user error (bad input, a locked customer, ...): what it was doing and what to do."""


def run_settings(settings: Settings | None, store: str | None) -> Settings:
    """The settings of one flow run: those given, else env and config file read once here; `store` on top.

    A flow called by a command or a test gets its settings passed in; a scheduled run (a deployment
    started by Prefect) gets none and resolves them here, at its entry.
    """
    if settings is None:
        return load_settings(store=Path(store) if store else None)
    if store and Path(store) != settings.store:
        return settings.model_copy(update={"store": Path(store)})
    return settings


def retry_when_busy(task: Any, old_state: Any, new_state: Any) -> bool:
    """Retry a task only when the store was busy; bad input fails at once (retrying cannot help)."""
    try:
        new_state.result()
    except StoreBusyError:
        return True
    except Exception:
        return False
    return False


def explain_failure(
    what: str, store: Path | str, error: BaseException, hint: str = "fix it and run again"
) -> BaseException:
    """The exception a flow should fail with: what happened while doing `what`, and what to do next.

    Only a busy store, a broken store and `UserError`s are explained; any other error is a bug in idres
    and is returned itself (callers re-raise it unchanged, with its traceback).
    """
    if isinstance(error, StoreBusyError):
        return StoreBusyFailure(
            f"store busy after {STORE_RETRIES} retries while {what}: another process holds {store} "
            "(an `idres` command, `idres web` or another flow run). Nothing was written. "
            "The next scheduled run will try again; to run now, wait for the other process to finish "
            "(or stop it) and start this flow again."
        )
    if isinstance(error, StoreError):
        return StoreFailure(
            f"store error while {what} ({store}): {error}. Nothing was written (the transaction rolled "
            "back); retrying will not help until this is fixed: check disk space and permissions, and "
            "that `idres status` opens the store."
        )
    if isinstance(error, UserError):
        return FlowInputError(
            f"bad input while {what}: {error}. Nothing was written and retrying cannot help: {hint}.",
            exit_code=error.exit_code,
        )
    return error  # a bug: it keeps its type and traceback


@contextmanager
def explained(what: str, store: Path | str, hint: str = "fix it and run again") -> Iterator[None]:
    """Fail the block with `explain_failure`'s message (wrap the store tasks of a flow in it)."""
    try:
        yield
    except Exception as error:
        failure = explain_failure(what, store, error, hint)
        if failure is error:
            raise
        raise failure from error


def markdown_table(columns: list[str], rows: list[list[Any]]) -> str:
    """A markdown table for Prefect artifacts (cells are escaped for pipes)."""

    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def request_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per compliance request a run handled (request_id, outcome, reason), for a table artifact."""
    rows: list[dict[str, Any]] = [
        {"request_id": request_id, "outcome": "done", "reason": ""} for request_id in summary.get("done", [])
    ]
    for outcome in ("waiting", "failed"):
        rows += [
            {"request_id": item["request_id"], "outcome": outcome, "reason": item.get("reason") or ""}
            for item in summary.get(outcome, [])
        ]
    return sorted(rows, key=lambda row: row["request_id"])


def publish_requests(key: str, summary: dict[str, Any], description: str) -> None:
    """Publish the requests a compliance run handled as a table under a stable key (empty when none)."""
    from prefect.artifacts import create_table_artifact

    create_table_artifact(key=key, table=request_rows(summary), description=description)
