"""domain/environment.py: the Prefect process variables, typed, as the launcher and the warm server read them."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.environment import STARTUP_TIMEOUT_VARIABLE, PrefectEnvironment


def test_defaults_without_any_variable() -> None:
    env = PrefectEnvironment.read({})
    assert env.home == Path.home() / ".prefect"
    assert env.warm_server and env.startup_timeout_s is None and env.server_only == frozenset()


@pytest.mark.parametrize(("value", "wanted"), [("false", False), (" OFF ", False), ("0", False), ("no", False),
                                               ("true", True), ("1", True), ("", True)])  # fmt: skip
def test_the_warm_server_is_off_only_when_said_so(value: str, wanted: bool) -> None:
    assert PrefectEnvironment.read({"IDRES_PREFECT__WARM_SERVER": value}).warm_server is wanted


def test_home_timeout_and_server_only_names() -> None:
    env = PrefectEnvironment.read(
        {"PREFECT_HOME": "/tmp/ph", STARTUP_TIMEOUT_VARIABLE: "45", "IDRES_SERVER_ONLY_VARIABLES": "A,B,"}
    )
    assert (env.home, env.startup_timeout_s, env.server_only) == (
        Path("/tmp/ph"),
        45.0,
        frozenset({"A", "B"}),
    )
