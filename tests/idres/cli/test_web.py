"""`idres web`: a store that cannot be opened is a message; a bug in the page shows its traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from idres.cli.app import app
from store import StoreBusyError

runner = CliRunner()


def test_a_busy_store_is_said_and_the_page_does_not_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def busy(settings: Any) -> None:
        raise StoreBusyError(f"the store {settings.store} is busy: another process writes to it")

    monkeypatch.setattr("web.app.create_app", busy)
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: pytest.fail("the page started"))
    result = runner.invoke(app, ["web", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 1
    assert "could not start the web page: the store" in result.stderr and "is busy" in result.stderr


def test_a_bug_while_starting_the_page_is_not_dressed_as_a_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(settings: Any) -> None:
        raise KeyError("templates")

    monkeypatch.setattr("web.app.create_app", broken)
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: pytest.fail("the page started"))
    result = runner.invoke(app, ["web", "--store", str(tmp_path / "s.duckdb")])
    assert isinstance(result.exception, KeyError)  # raised as it is: Typer prints its traceback
    assert "could not start the web page" not in result.output
