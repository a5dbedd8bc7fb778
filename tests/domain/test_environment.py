"""domain/environment.py: the Prefect process variables, typed, as the launcher and the warm server read them."""

from __future__ import annotations

import os
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


def test_a_deep_prefect_home_gets_a_runner_socket_that_fits_in_a_private_folder(tmp_path: Path) -> None:
    from domain.environment import runner_socket_path

    shallow = Path("/tmp/ph")
    assert runner_socket_path(shallow) == shallow / "idres-warm-server" / "runner.sock"
    deep_a, deep_b = tmp_path / ("a" * 90), tmp_path / ("b" * 90)
    socket_a, socket_b = runner_socket_path(deep_a), runner_socket_path(deep_b)
    assert socket_a != socket_b and socket_a == runner_socket_path(deep_a)  # one runner per home
    assert len(os.fsencode(socket_a)) <= 100  # sun_path is 108 bytes: binding a longer path fails
    assert socket_a.parent.stat().st_mode & 0o777 == 0o700  # nobody else can connect and run commands
