"""Shared flow wiring: only a busy store is retried, and failures say what to do next."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.common import StoreBusyFailure, explain_failure, explained
from store import StoreBusyError, StoreError

STORE = Path("data/store/idres.duckdb")


def test_a_busy_store_names_the_store_and_what_to_do() -> None:
    failure = explain_failure("loading a.csv", STORE, StoreBusyError("store is busy"))
    assert isinstance(failure, StoreBusyFailure)
    text = str(failure)
    assert text.startswith("store busy after 3 retries while loading a.csv")
    assert str(STORE) in text and "another process holds" in text and "start this flow again" in text


def test_bad_input_and_store_errors_say_retrying_cannot_help() -> None:
    bad = explain_failure("applying merges", STORE, ValueError("customer 12 is locked"), hint="unlock it")
    assert isinstance(bad, ValueError)
    assert "bad input while applying merges: customer 12 is locked" in str(bad)
    assert "retrying cannot help: unlock it" in str(bad)
    broken = explain_failure("saving suggestions", STORE, StoreError("disk full", "INSERT ..."))
    assert "store error while saving suggestions" in str(broken) and "will not help" in str(broken)
    assert explain_failure("x", STORE, RuntimeError("bug")).args == ("bug",)


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
