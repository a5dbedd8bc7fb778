"""Running `idres` in-process for the CLI tests, as a user would type it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from idres.cli.app import app
from store import open_store


def invoke(args: list[str], code: int = 0) -> str:
    """Run `idres ARGS`, check its exit code; stdout when it succeeds, all output when it fails."""
    result = CliRunner().invoke(app, args)
    assert result.exit_code == code, result.output
    return result.stdout if code == 0 else result.output  # Prefect may log to stderr


def run_on(store: Path, *args: str, ok: bool = True) -> str:
    """Run `idres ARGS --store STORE`; stdout when `ok` (it must succeed), else the error (it must fail)."""
    result = CliRunner().invoke(app, [*args, "--store", str(store)])
    if ok:
        assert result.exit_code == 0, result.output
        return result.stdout
    assert result.exit_code != 0, result.output
    return result.output


def json_on(store: Path, *args: str) -> object:
    """Run `idres ARGS --store STORE --format json`; the JSON document it printed."""
    return json.loads(run_on(store, *args, "--format", "json"))


def suggestion_status(store: Path, suggestion_id: int) -> str:
    """A suggestion's status as stored."""
    with open_store(store) as session:
        return str(session.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [suggestion_id]))
