"""The built wheel, installed into a fresh virtual environment without network, runs a small pipeline.

The environment gets the locked dependencies from uv's cache (`make setup` filled it) and the wheel
with `--no-deps`; nothing of the source tree is on its path, which the test checks (`__file__` of
every top-level package), so a package left out of the wheel fails here and not at a user's site.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

IDENTITIES = """channel,external_id,first_name,last_name,email,phone
email,ann.lee@example.com,Ann,Lee,ann.lee@example.com,
sms,+447700900123,Ann,Lee,ann.lee@example.com,+447700900123
chat,c-1,Ann,Lee,ann.lee@example.com,07700900123
chat,c-2,Bob,Stone,bob@example.org,
"""


def _uv() -> list[str]:
    """The uv command the Makefile uses (`python3 -m uv`), or uv on PATH."""
    for command in ([sys.executable, "-m", "uv"], ["python3", "-m", "uv"], [shutil.which("uv") or "uv"]):
        try:
            if subprocess.run([*command, "--version"], capture_output=True, check=False).returncode == 0:
                return command
        except FileNotFoundError:
            continue
    pytest.fail("uv is not installed: run `make setup`")


def _run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, **kwargs)
    assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return done


def _top_level_packages() -> list[str]:
    return sorted(path.parent.name for path in REPO.glob("*/__init__.py"))


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the locked dependencies (offline) and the built wheel."""
    work = tmp_path_factory.mktemp("wheel")
    uv = _uv()
    _run([*uv, "build", "--wheel", "--offline", "--quiet", "--out-dir", str(work / "dist")], cwd=REPO)
    (wheel,) = (work / "dist").glob("idres-*.whl")
    (work / "lock").mkdir()
    lock = work / "lock" / "pylock.toml"  # uv insists on this file name
    export = ["export", "--frozen", "--no-dev", "--no-emit-project", "--format", "pylock.toml", "--quiet"]
    _run([*uv, *export, "-o", str(lock)], cwd=REPO)
    venv = work / "venv"
    _run([*uv, "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=work)
    python = str(venv / "bin" / "python")
    _run([*uv, "pip", "install", "--offline", "--quiet", "--python", python, "-r", str(lock)], cwd=work)
    _run(
        [*uv, "pip", "install", "--offline", "--quiet", "--no-deps", "--python", python, str(wheel)], cwd=work
    )
    return venv


def _clean_env(tmp_path: Path) -> dict[str, str]:
    """No PYTHONPATH, no developer IDRES_* settings: only what the run needs, outside the source tree."""
    from prefect.settings import get_current_settings

    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "COLUMNS": "200",
        "PREFECT_HOME": str(tmp_path / "prefect-home"),
        "PREFECT_API_URL": str(get_current_settings().api.url),  # the session's test server
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "GX_ANALYTICS_ENABLED": "false",
        "IDRES_PREFECT__WARM_SERVER": "false",
        "IDRES_INGEST__DATA_DOCS_DIR": str(tmp_path / "gx_docs"),
        "IDRES_INGEST__LANDING_DIR": str(tmp_path / "landing"),
    }


@pytest.mark.slow
def test_every_package_imports_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    packages = _top_level_packages()
    code = (
        "import importlib, json, sys\n"
        f"print(json.dumps({{name: importlib.import_module(name).__file__ for name in {packages!r}}}))"
    )
    done = _run([str(installed / "bin" / "python"), "-I", "-c", code], cwd=tmp_path, env=_clean_env(tmp_path))
    files = json.loads(done.stdout)
    site_packages = next((installed / "lib").glob("python3*/site-packages")).resolve()
    for name in packages:
        path = Path(files[name]).resolve()
        assert path.is_relative_to(site_packages), f"{name} imported from {path}, not the wheel"
        assert not path.is_relative_to(REPO)


@pytest.mark.slow
def test_installed_console_script_ingests_matches_and_reports(
    installed: Path, tmp_path: Path, prefect_harness: None
) -> None:
    env = _clean_env(tmp_path)
    (tmp_path / "home").mkdir()
    (tmp_path / "identities.csv").write_text(IDENTITIES, encoding="utf-8")
    idres = [str(installed / "bin" / "idres"), "--store", str(tmp_path / "store.duckdb")]

    ingest = _run([*idres, "ingest", "identities.csv", "--format", "json"], cwd=tmp_path, env=env)
    (report,) = json.loads(ingest.stdout)
    assert report["status"] == "loaded" and report["rows_loaded"] == 4, report

    _run([*idres, "match", "--format", "json"], cwd=tmp_path, env=env)

    status = json.loads(_run([*idres, "status", "--format", "json"], cwd=tmp_path, env=env).stdout)
    assert status["counts"]["identities"] == 4
    assert {row["channel"]: row["identities"] for row in status["channels"]} == {
        "chat": 2,
        "email": 1,
        "sms": 1,
    }
    assert sum(row["match_pending"] for row in status["channels"]) == 0  # the match run took them all
