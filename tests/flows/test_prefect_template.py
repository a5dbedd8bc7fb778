"""flows/prefect_template.py: the migrated Prefect database a warm server copies into a new home."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from flows import prefect_template, warm_server
from flows.prefect_template import seed_home, template_path


def _template(folder: Path) -> Path:
    path = folder / "idres-prefect-9.9.9.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE alembic_version (version_num TEXT)")
        connection.execute("INSERT INTO alembic_version VALUES ('head')")
    connection.close()
    return path


def test_the_template_is_keyed_by_the_prefect_version_in_the_environment() -> None:
    import prefect

    path = template_path()
    assert path is not None and path.name == f"idres-prefect-{prefect.__version__}.db"
    assert template_path("3.1.0") == path.with_name("idres-prefect-3.1.0.db")


def test_a_new_home_gets_a_copy_of_the_template(tmp_path: Path) -> None:
    template, home = _template(tmp_path), tmp_path / "home"
    assert seed_home(home, {"PREFECT_HOME": str(home)}, tmp_path, template)
    assert (home / "prefect.db").read_bytes() == template.read_bytes()
    assert [p.name for p in home.iterdir()] == ["prefect.db"]  # no partial copy left behind


def test_no_copy_over_a_database_without_a_template_or_when_a_setting_moves_the_database(
    tmp_path: Path,
) -> None:
    template, home = _template(tmp_path), tmp_path / "home"
    env = {"PREFECT_HOME": str(home)}
    assert not seed_home(home, env, tmp_path, tmp_path / "missing.db")  # no template: as before
    assert not (home / "prefect.db").exists()
    moved = {**env, "PREFECT_API_DATABASE_CONNECTION_URL": f"sqlite+aiosqlite:///{tmp_path}/own.db"}
    assert not seed_home(home, moved, tmp_path, template)
    assert not (home / "prefect.db").exists()
    (tmp_path / "prefect.toml").write_text('[server.database]\nname = "/srv/prefect.db"\n')
    assert not seed_home(home, env, tmp_path, template)
    (tmp_path / "prefect.toml").write_text("[server.database\n")  # unreadable: the server says so
    assert not seed_home(home, env, tmp_path, template)
    (tmp_path / "prefect.toml").unlink()
    home.mkdir()
    (home / "prefect.db").write_bytes(b"the user's runs")
    assert not seed_home(home, env, tmp_path, template)
    assert (home / "prefect.db").read_bytes() == b"the user's runs"


def test_the_warm_server_seeds_the_home_before_it_starts_the_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    template, home = _template(tmp_path), tmp_path / "home"
    seen: dict[str, Any] = {}

    class NoServer:
        pid = 4242

        def __init__(self, command: list[str], **kwargs: Any) -> None:
            seen["database"] = (home / "prefect.db").exists()  # when the supervisor would start

    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.delenv("PREFECT_SERVER_DATABASE_CONNECTION_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(prefect_template, "template_path", lambda: template)
    monkeypatch.setattr(subprocess, "Popen", NoServer)
    warm_server.state_dir(home).mkdir(parents=True)
    warm_server._spawn(home, 60)
    assert seen == {"database": True}
    assert (home / "prefect.db").read_bytes() == template.read_bytes()
