"""`idres customer merge`, `idres merges log/undo/apply` on a small store."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from domain.settings import Settings
from idres.cli.app import app
from store import open_store
from tests.review.test_merging import approve, set_lock, world_template  # noqa: F401  (fixture)

runner = CliRunner()


@pytest.fixture
def world_path(world_template: Path, settings: Settings) -> Path:  # noqa: F811
    shutil.copyfile(world_template, settings.store)
    return settings.store


def run(store: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, [*args, "--store", str(store)])
    return result.exit_code, result.output


def test_merge_show_log_and_undo(world_path: Path) -> None:
    code, out = run(world_path, "customer", "merge", "2", "1", "--agent", "ann", "--comment", "same person")
    assert code == 0, out
    assert "customer 2 merged into 1" in out and "idres merges undo 1" in out
    code, out = run(world_path, "customer", "show", "2")
    assert code == 0 and "customer 2 was merged into 1; showing the survivor" in out
    assert "phones: ['+447911123401', '+447911123402']" in out and "(identity 1, email, " in out
    code, out = run(world_path, "merges", "log", "--customer", "2", "--format", "json")
    log = json.loads(out)
    assert [(m["merge_id"], m["survivor_id"], m["absorbed_id"], m["kind"]) for m in log] == [
        (1, 1, 2, "manual")
    ]
    code, out = run(world_path, "merges", "undo", "1", "--agent", "kim", "--comment", "two people")
    assert code == 0 and "customer 2 is back with 1 identities" in out
    code, out = run(world_path, "customer", "show", "2")
    assert "was merged into" not in out
    code, out = run(world_path, "merges", "undo", "1", "--agent", "kim")
    assert code == 1 and "already undone by kim" in out
    code, out = run(world_path, "merges", "log")
    assert code == 0 and "undone" in out
    code, out = run(world_path, "customer", "merge", "1", "2", "--agent", "ann")
    assert code == 1 and "marked as different people" in out


def test_merge_of_a_locked_customer_says_why(world_path: Path) -> None:
    with open_store(world_path) as store:
        set_lock(store, 3, True)
    code, out = run(world_path, "customer", "merge", "3", "4", "--agent", "ann")
    assert code == 1 and "customer 3 is locked (reason: fraud check) - unlock it first" in out


def test_undo_of_an_unknown_merge(world_path: Path) -> None:
    code, out = run(world_path, "merges", "undo", "7", "--agent", "kim")
    assert code == 1 and "no merge 7" in out


@pytest.mark.slow
def test_merges_apply_runs_the_flow(world_path: Path, prefect_harness: None) -> None:
    with open_store(world_path) as store:
        approve(store, 1, 2)
        approve(store, 2, 5)
    code, out = run(world_path, "merges", "apply", "--agent", "ops")
    assert code == 0, out
    assert "2 merges applied, 0 held back" in out
    result = runner.invoke(app, ["merges", "apply", "--format", "json", "--store", str(world_path)])
    assert result.exit_code == 0 and json.loads(result.stdout)["merges_applied"] == 0
    with open_store(world_path) as store:
        assert store.scalar("SELECT applied_by FROM merges WHERE merge_id = 1") == "ops"


@pytest.mark.slow
def test_the_flow_runs_on_the_settings_the_command_resolved(
    world_path: Path, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import domain.settings
    import flows.common
    from idres.cli import common

    reads: list[object] = []

    def counting(**overrides: Any) -> Settings:
        reads.append(overrides)
        return domain.settings.load_settings(**overrides)

    monkeypatch.setattr(common, "load_settings", counting)
    monkeypatch.setattr(flows.common, "load_settings", counting)
    with open_store(world_path) as store:
        approve(store, 1, 2)
    code, out = run(world_path, "merges", "apply", "--agent", "ops")
    assert code == 0, out
    assert "1 merges applied" in out
    assert len(reads) == 1  # the command's; the flow got them passed in instead of reading them again
