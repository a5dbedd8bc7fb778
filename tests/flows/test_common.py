"""Shared flow wiring: only a busy store is retried, and failures say what to do next."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.errors import ConfigurationError, UserError
from domain.settings import Settings
from flows.common import StoreBusyFailure, explain_failure, explained
from review.errors import ReviewError
from store import StoreBusyError, StoreError, open_store

STORE = Path("data/store/idres.duckdb")


def test_a_busy_store_names_the_store_and_what_to_do() -> None:
    failure = explain_failure("loading a.csv", STORE, StoreBusyError("store is busy"))
    assert isinstance(failure, StoreBusyFailure)
    text = str(failure)
    assert text.startswith("store busy after 3 retries while loading a.csv")
    assert str(STORE) in text and "another process holds" in text and "start this flow again" in text


def test_bad_input_and_store_errors_say_retrying_cannot_help() -> None:
    bad = explain_failure("applying merges", STORE, ReviewError("customer 12 is locked"), hint="unlock it")
    assert isinstance(bad, UserError) and isinstance(bad, ValueError)
    assert "bad input while applying merges: customer 12 is locked" in str(bad)
    assert "retrying cannot help: unlock it" in str(bad)
    broken = explain_failure("saving suggestions", STORE, StoreError("disk full", "INSERT ..."))
    assert "store error while saving suggestions" in str(broken) and "will not help" in str(broken)
    assert explain_failure("x", STORE, RuntimeError("bug")).args == ("bug",)


def test_a_user_error_keeps_its_exit_code_through_the_explanation() -> None:
    failure = explain_failure("matching", STORE, ConfigurationError("[match] seed: not a number"))
    assert isinstance(failure, UserError) and failure.exit_code == 2


@pytest.mark.parametrize("bug", [ValueError("invalid literal for int()"), KeyError("customer_id")])
def test_a_bug_is_not_called_bad_input_and_keeps_its_traceback(bug: Exception) -> None:
    # a ValueError/KeyError from idres' own code is a bug, not a bad file: it passes unchanged
    assert explain_failure("loading a.csv", STORE, bug) is bug
    with pytest.raises(type(bug)) as caught, explained("loading a.csv", STORE):
        raise bug
    assert caught.value is bug and caught.value.__traceback__ is not None
    assert "bad input" not in str(caught.value)


def test_explained_rewrites_known_failures_and_passes_others_through() -> None:
    with pytest.raises(StoreBusyFailure) as caught, explained("matching", STORE):
        raise StoreBusyError("busy")
    assert isinstance(caught.value.__cause__, StoreBusyError)
    with pytest.raises(RuntimeError, match=r"^a bug$"), explained("matching", STORE):
        raise RuntimeError("a bug")


@pytest.mark.slow
def test_only_a_busy_store_is_retried(prefect_harness: None) -> None:
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE

    from flows.common import retry_when_busy

    attempts = {"busy": 0, "bad": 0}

    @task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=0, retry_condition_fn=retry_when_busy)
    def busy_twice() -> str:
        attempts["busy"] += 1
        if attempts["busy"] < 3:
            raise StoreBusyError("busy")
        return "done"

    @task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=0, retry_condition_fn=retry_when_busy)
    def bad_input() -> None:
        attempts["bad"] += 1
        raise ValueError("row 3: bad date")

    @flow
    def both() -> str:
        result = busy_twice()
        with pytest.raises(ValueError, match="row 3"):
            bad_input()
        return result

    assert both() == "done"
    assert attempts == {"busy": 3, "bad": 1}


def test_request_rows_list_every_outcome_by_request() -> None:
    from flows.common import request_rows

    summary = {
        "done": [4, 1],
        "waiting": [{"request_id": 3, "reason": "customer 12 is locked"}],
        "failed": [{"request_id": 2, "reason": "bundle not written"}],
        "bundles": [],
    }
    assert request_rows(summary) == [
        {"request_id": 1, "outcome": "done", "reason": ""},
        {"request_id": 2, "outcome": "failed", "reason": "bundle not written"},
        {"request_id": 3, "outcome": "waiting", "reason": "customer 12 is locked"},
        {"request_id": 4, "outcome": "done", "reason": ""},
    ]
    assert request_rows({"done": [], "failed": []}) == []


def test_given_settings_are_used_as_they_are_and_the_environment_is_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from domain.settings import SettingsError
    from flows.common import run_settings

    monkeypatch.setenv("IDRES_CONFIG", str(tmp_path / "missing.toml"))  # reading it would fail
    given = Settings(store=tmp_path / "a.duckdb")
    assert run_settings(given, None) is given
    moved = run_settings(given, str(tmp_path / "b.duckdb"))
    assert moved.store == tmp_path / "b.duckdb" and given.store == tmp_path / "a.duckdb"
    with pytest.raises(SettingsError, match="configuration file not found"):
        run_settings(None, None)  # without settings the flow entry reads them (and here fails)


@pytest.mark.slow
def test_a_flow_given_settings_runs_on_them_not_on_the_environment(
    settings: Settings, prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.apply_merges import apply_merges_flow

    with open_store(settings.store):
        pass
    monkeypatch.setenv("IDRES_CONFIG", str(tmp_path / "missing.toml"))
    monkeypatch.setenv("IDRES_STORE", str(tmp_path / "elsewhere.duckdb"))
    report = apply_merges_flow(settings=settings)
    assert report["merges_applied"] == 0 and report["approved_seen"] == 0
    assert not (tmp_path / "elsewhere.duckdb").exists()
    with open_store(settings.store) as store:
        assert store.scalar("SELECT count(*) FROM merge_runs") == 1


@pytest.mark.slow
def test_through_a_flow_a_user_error_is_a_message_and_a_bug_keeps_its_traceback(
    settings: Settings, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import traceback

    import flows.apply_merges as module

    with open_store(settings.store):
        pass

    def locked(*args: object) -> None:
        raise ReviewError("customer 12 is locked")

    def buggy_code(*args: object) -> None:
        raise KeyError("customer_id")

    monkeypatch.setattr(module, "apply_approved", locked)
    with pytest.raises(UserError, match="bad input while applying approved merges: customer 12 is locked"):
        module.apply_merges_flow(settings=settings)
    monkeypatch.setattr(module, "apply_approved", buggy_code)
    with pytest.raises(KeyError) as caught:
        module.apply_merges_flow(settings=settings)
    assert not isinstance(caught.value, UserError) and "bad input" not in str(caught.value)
    assert "buggy_code" in [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
