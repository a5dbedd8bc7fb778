"""Prefect settings in force for `idres` commands, and which errors count as Prefect's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from domain.environment import HEARTBEAT_VARIABLES
from domain.settings import PrefectSettings
from flows.runtime import STARTUP_TIMEOUT_VARIABLE, is_prefect_failure, prefect_api
from flows.warm_server import WarmServerError

PROBE = (
    "import typer, typer.core; from idres.cli.common import flow_settings; "
    "flow_settings(typer.Context(typer.core.TyperCommand('probe'))); import prefect; "
    "from prefect.settings import get_current_settings; "
    "print(get_current_settings().server.ephemeral.startup_timeout_seconds)"
)


def _effective_timeout(tmp_path: Path, **env: str) -> float:
    clean = {k: v for k, v in os.environ.items() if k != STARTUP_TIMEOUT_VARIABLE}
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, "PREFECT_HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    return float(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_startup_timeout_set_is_the_one_prefect_uses(tmp_path: Path) -> None:
    # what a flow command does (settings, then the flow module): Prefect sees idres' timeout, not 20 s
    assert _effective_timeout(tmp_path) == PrefectSettings().startup_timeout_s
    assert _effective_timeout(tmp_path, IDRES_PREFECT__STARTUP_TIMEOUT_S="77") == 77
    assert _effective_timeout(tmp_path, **{STARTUP_TIMEOUT_VARIABLE: "45"}) == 45  # Prefect's own wins


def test_the_timeout_is_in_force_even_when_prefect_was_imported_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.settings import get_current_settings

    monkeypatch.delenv(STARTUP_TIMEOUT_VARIABLE, raising=False)
    with prefect_api(PrefectSettings(warm_server=False, startup_timeout_s=66)) as url:
        assert get_current_settings().server.ephemeral.startup_timeout_seconds == 66
        if url is None:  # no server configured in this process: Prefect's temporary server will be used
            assert get_current_settings().api.url is None


def test_no_flow_heartbeats_by_default_and_the_users_interval_is_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Prefect's heartbeat thread sleeps in 1 s steps and every flow run waits for it at its end
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, get_current_settings, temporary_settings

    for name in HEARTBEAT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert get_current_settings().flows.heartbeat_frequency is not None  # Prefect's default sends them
    with prefect_api(PrefectSettings(warm_server=False)):
        assert get_current_settings().flows.heartbeat_frequency is None
    with prefect_api(PrefectSettings(warm_server=False, heartbeat_s=60)):
        assert get_current_settings().flows.heartbeat_frequency == 60
    # PREFECT_FLOWS_HEARTBEAT_FREQUENCY set by the user (read by Prefect when it was imported) wins
    monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "90")
    with (
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: 90}),
        prefect_api(PrefectSettings(warm_server=False)),
    ):
        assert get_current_settings().flows.heartbeat_frequency == 90


def test_a_configured_server_that_does_not_answer_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.runtime import PrefectUnavailable

    with (
        temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}),
        pytest.raises(PrefectUnavailable, match="unset PREFECT_API_URL"),
        prefect_api(PrefectSettings()),
    ):
        pass


def test_prefect_failures_are_told_apart_from_the_flows_own() -> None:
    assert is_prefect_failure(httpx.ConnectError("refused"))
    assert is_prefect_failure(WarmServerError("did not start"))
    assert is_prefect_failure(
        RuntimeError("Timed out while attempting to connect to ephemeral Prefect API server")
    )
    try:
        try:
            raise httpx.ReadTimeout("slow")
        except httpx.ReadTimeout as inner:
            raise RuntimeError("task crashed") from inner
    except RuntimeError as outer:
        assert is_prefect_failure(outer)
    assert not is_prefect_failure(ValueError("bad input while loading a.csv"))
    assert not is_prefect_failure(RuntimeError("store busy after 3 retries"))
