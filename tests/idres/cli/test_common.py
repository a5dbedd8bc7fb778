"""Options every command shares: -q/--quiet, the global --store, one JSON document, Prefect trouble."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from domain.errors import BadArgument, Unavailable, UserError
from domain.settings import Settings, load_settings
from flows.common import FlowInputError
from flows.warm_server import WarmServerError
from idres.cli import common
from idres.cli.app import app
from tests.helpers import write_csv

runner = CliRunner()
HEADER = ["channel", "external_id", "first_name", "email"]


def _command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _command_paths(command, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_accepts_quiet() -> None:
    paths = list(_command_paths(typer.main.get_command(app)))
    assert len(paths) > 30 and ("status",) in paths and ("export", "run") in paths
    for path in paths:
        for flag in ("--quiet", "-q"):
            result = runner.invoke(app, [*path, flag, "--help"])
            assert result.exit_code == 0, f"idres {' '.join(path)} {flag}: {result.output}"


def test_quiet_silences_text_but_not_json_nor_errors(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    assert "Identities per channel" in runner.invoke(app, ["status", "--store", str(store)]).stdout
    assert runner.invoke(app, ["status", "--store", str(store), "-q"]).stdout == ""
    assert runner.invoke(app, ["-q", "status", "--store", str(store)]).stdout == ""
    quiet_json = runner.invoke(app, ["status", "--store", str(store), "-q", "--format", "json"])
    assert json.loads(quiet_json.stdout)["counts"]["identities"] == 0
    missing = runner.invoke(app, ["customer", "show", "7", "--store", str(store), "-q"])
    assert missing.exit_code == 1 and "no customer 7" in missing.output
    # the next command without -q prints again (the option does not stick between invocations)
    assert "Identities per channel" in runner.invoke(app, ["status", "--store", str(store)]).stdout


def test_global_store_option_and_the_commands_own_wins(tmp_path: Path) -> None:
    first, second = tmp_path / "first.duckdb", tmp_path / "second.duckdb"
    result = runner.invoke(app, ["--store", str(first), "status", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert Path(json.loads(result.stdout)["store"]) == first and first.exists()
    result = runner.invoke(app, ["--store", str(first), "status", "--store", str(second), "--format", "json"])
    assert Path(json.loads(result.stdout)["store"]) == second
    # a later command without the option goes back to the configured store
    os.environ["IDRES_STORE"] = str(tmp_path / "configured.duckdb")
    try:
        result = runner.invoke(app, ["status", "--format", "json"])
    finally:
        del os.environ["IDRES_STORE"]
    assert Path(json.loads(result.stdout)["store"]) == tmp_path / "configured.duckdb"


@pytest.mark.slow
def test_ingest_json_is_one_document_even_when_a_file_fails(
    tmp_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(tmp_path / "docs"))
    good = write_csv(tmp_path / "identities.csv", HEADER, [["email", "a@x.com", "Ann", "a@x.com"]])
    bad = tmp_path / "identities_empty.csv"
    bad.write_bytes(b"")
    result = runner.invoke(
        app, ["--store", str(tmp_path / "s.duckdb"), "ingest", str(good), str(bad), "--format", "json"]
    )
    assert result.exit_code == 1
    reports = json.loads(result.stdout)  # the whole of stdout is one document
    assert [r["status"] for r in reports] == ["loaded", "failed"]
    assert reports[0]["seconds"] > 0 and reports[1]["seconds"] >= 0
    assert "failed:" in result.stderr and "empty" in result.stderr


@pytest.mark.slow
def test_quiet_flow_command_prints_no_prefect_info(tmp_path: Path, prefect_harness: None) -> None:
    from prefect.settings import get_current_settings

    path = write_csv(tmp_path / "identities.csv", HEADER, [["email", "a@x.com", "Ann", "a@x.com"]])
    env = {
        **os.environ,
        "PREFECT_API_URL": str(get_current_settings().api.url),
        "IDRES_INGEST__DATA_DOCS_DIR": str(tmp_path / "docs"),
    }

    def run(*options: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "idres", "--store", str(tmp_path / "s.duckdb"), "ingest", str(path)]
        return subprocess.run(
            [*command, *options], env=env, capture_output=True, text=True, timeout=300, check=False
        )

    loud = run("--format", "json")
    assert loud.returncode == 0, loud.stderr
    assert "INFO" in loud.stderr and "Finished in state" in loud.stderr  # what --quiet must remove
    assert json.loads(loud.stdout)[0]["status"] == "loaded"
    quiet = run("-q", "--format", "json")
    assert quiet.returncode == 0, quiet.stderr
    assert "INFO" not in quiet.stderr, quiet.stderr
    assert json.loads(quiet.stdout)[0]["status"] == "unchanged"


@contextmanager
def _no_prefect(settings: Any, quiet: bool = False) -> Iterator[None]:
    yield


def test_prefect_trouble_is_retried_once(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.setattr("flows.runtime.prefect_api", _no_prefect)
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("connection refused")
        return "done"

    assert common.run_flow("ingest failed", Settings(), flaky) == "done"
    assert len(calls) == 2

    def warm_server_gone() -> str:  # a user error too (Unavailable), but Prefect's: retried all the same
        calls.append(1)
        if len(calls) == 3:
            raise WarmServerError("the warm Prefect server stopped answering")
        return "done"

    assert common.run_flow("ingest failed", Settings(), warm_server_gone) == "done"
    assert len(calls) == 4


def test_prefect_trouble_that_persists_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flows.runtime.prefect_api", _no_prefect)

    def broken() -> None:
        raise RuntimeError("flow crashed") from httpx.ReadTimeout("timed out")

    with pytest.raises(Unavailable) as unavailable:
        common.run_flow("match failed", Settings(), broken)
    assert "Prefect did not answer" in str(unavailable.value) and "PREFECT_API_URL" in str(unavailable.value)
    calls: list[int] = []

    def own_error() -> None:
        calls.append(1)
        raise FlowInputError("bad input while loading x.csv", exit_code=2)

    with pytest.raises(UserError) as said:
        common.run_flow("ingest failed", Settings(), own_error)
    assert str(said.value) == "ingest failed: bad input while loading x.csv"  # not retried, not re-worded
    assert said.value.exit_code == 2 and calls == [1]


def test_a_bug_in_a_flow_keeps_its_type_and_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("flows.runtime.prefect_api", _no_prefect)

    def bug() -> None:
        raise KeyError("survivor_id")  # was reported as "ingest failed: 'survivor_id'", like bad input

    with pytest.raises(KeyError):
        common.run_flow("ingest failed", Settings(), bug)


def test_user_errors_are_messages_with_their_exit_code_and_bugs_raise(
    review_queue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refused(*args: Any, **kwargs: Any) -> None:
        raise BadArgument("that suggestion cannot be approved that way")

    monkeypatch.setattr("review.decisions.approve", refused)
    result = runner.invoke(app, ["suggestions", "approve", "1", "--agent", "a", "--store", str(review_queue)])
    assert (result.exit_code == 2 and result.exception is None) or isinstance(result.exception, SystemExit)
    assert "error: that suggestion cannot be approved that way" in result.stderr

    def bug(*args: Any, **kwargs: Any) -> None:
        raise TypeError("approve() got an unexpected keyword argument")

    monkeypatch.setattr("review.decisions.approve", bug)
    result = runner.invoke(app, ["suggestions", "approve", "1", "--agent", "a", "--store", str(review_queue)])
    assert isinstance(result.exception, TypeError) and result.exit_code == 1
    assert "error:" not in result.stderr  # not dressed as a message: Typer prints the traceback


def test_settings_are_read_once_per_invocation(review_queue: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[dict[str, Any]] = []

    def counting(**overrides: Any) -> Settings:
        reads.append(overrides)
        return load_settings(**overrides)

    monkeypatch.setattr(common, "load_settings", counting)
    # `customer edit` needs the settings twice (the default region, then the store to open)
    result = runner.invoke(
        app, ["--store", str(review_queue), "customer", "edit", "1", "--agent", "bob", "--city", "York"]
    )
    assert result.exit_code == 0, result.output
    assert reads == [{"config": None, "store": review_queue}]
    result = runner.invoke(app, ["customer", "show", "1", "--store", str(review_queue), "--format", "json"])
    assert json.loads(result.stdout)["profile"]["city"] == "York"  # the command's own --store on top
    assert reads[1:] == [{"config": None, "store": None}]  # and the next invocation reads them anew


def test_a_command_that_reads_no_settings_ignores_a_bad_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDRES_INGEST__DEFAULT_REGION", "Britain")
    result = runner.invoke(app, ["sample", "--identities", "20", "--out", str(tmp_path / "sample")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["status", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 2 and "default_region" in result.output
