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


def test_the_configured_api_url_comes_from_the_active_profile_as_parsed_toml(tmp_path: Path) -> None:
    from domain.environment import configured_api_url

    home = {"PREFECT_HOME": str(tmp_path)}
    profiles = tmp_path / "profiles.toml"
    assert configured_api_url(home, cwd=tmp_path) is None  # no file: Prefect's default, no server
    profiles.write_text(
        'active = "ephemeral"\n[profiles.ephemeral]\n# PREFECT_API_URL = "http://h:4200/api"\n'
    )
    assert configured_api_url(home, cwd=tmp_path) is None  # a commented line sets nothing
    profiles.write_text('[profiles.local]\nPREFECT_API_URL = "http://h:4200/api"\n')
    assert configured_api_url(home, cwd=tmp_path) is None  # a profile that is not the active one
    assert configured_api_url({**home, "PREFECT_PROFILE": "local"}, cwd=tmp_path) == "http://h:4200/api"
    profiles.write_text('active = "local"\n[profiles.local]\nPREFECT_API_URL = "http://h:4200/api"\n')
    assert configured_api_url(home, cwd=tmp_path) == "http://h:4200/api"
    assert configured_api_url({**home, "PREFECT_API_URL": "http://e/api"}, cwd=tmp_path) == "http://e/api"
    assert configured_api_url({**home, "PREFECT_API_URL": ""}, cwd=tmp_path) is None  # set empty: unset


def test_the_configured_api_url_from_prefect_toml_a_moved_profiles_file_or_an_unreadable_one(
    tmp_path: Path,
) -> None:
    from domain.environment import UnreadablePrefectConfig, configured_api_url

    moved = tmp_path / "elsewhere.toml"
    moved.write_text('active = "x"\n[profiles.x]\nPREFECT_API_URL = "http://moved/api"\n')
    env = {"PREFECT_HOME": str(tmp_path / "home"), "PREFECT_PROFILES_PATH": str(moved)}
    assert configured_api_url(env, cwd=tmp_path) == "http://moved/api"
    (tmp_path / "prefect.toml").write_text('[api]\nurl = "http://project/api"\n')
    assert configured_api_url(env, cwd=tmp_path) == "http://project/api"  # before the profile, as in Prefect
    (tmp_path / "prefect.toml").write_text("[api\nurl = \n")
    with pytest.raises(UnreadablePrefectConfig, match=r"prefect\.toml"):
        configured_api_url(env, cwd=tmp_path)


def test_a_configured_database_is_found_in_the_variables_the_active_profile_or_prefect_toml(
    tmp_path: Path,
) -> None:
    from domain.environment import configured_database

    home = {"PREFECT_HOME": str(tmp_path)}
    assert configured_database(home, cwd=tmp_path) is None  # Prefect's default <home>/prefect.db
    url = "sqlite+aiosqlite:////elsewhere/p.db"
    for variable in ("PREFECT_API_DATABASE_CONNECTION_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL",
                     "PREFECT_SERVER_DATABASE_NAME", "PREFECT_API_DATABASE_DRIVER"):  # fmt: skip
        assert configured_database({**home, variable: url}, cwd=tmp_path) == variable
    (tmp_path / "profiles.toml").write_text(
        f'active = "local"\n[profiles.local]\nPREFECT_API_DATABASE_CONNECTION_URL = "{url}"\n'
    )
    assert configured_database(home, cwd=tmp_path) == "PREFECT_API_DATABASE_CONNECTION_URL"
    (tmp_path / "profiles.toml").unlink()
    (tmp_path / "prefect.toml").write_text(f'[server.database]\nconnection_url = "{url}"\n')
    assert configured_database(home, cwd=tmp_path) == "server.database.connection_url"
    (tmp_path / "prefect.toml").write_text('[server.database]\n# name = "x"\ntimeout = 20\n')
    assert configured_database(home, cwd=tmp_path) is None  # other database settings keep the file
