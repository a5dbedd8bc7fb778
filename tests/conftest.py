"""Shared fixtures: settings and small stores in tmp_path, and one Prefect test harness per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test processes must not phone home (no network here) nor share the developer's Prefect database.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Rich wraps tables to the terminal; a fixed wide console keeps CLI output assertions stable.
os.environ["COLUMNS"] = "200"

# The suite's own switches, read by tests and not by idres (`make test` sets IDRES_E2E_REQUIRED).
SUITE_CONTROLS = frozenset({"IDRES_E2E_REQUIRED"})
# The settings every test starts from, whatever the developer has exported: no background Prefect
# server outliving the tests (flows run on the session harness or Prefect's temporary server;
# tests/flows/test_warm_server.py starts warm servers itself, in tmp_path).
SUITE_SETTINGS = {"IDRES_PREFECT__WARM_SERVER": "false"}


def _developer_settings() -> list[str]:
    """The `IDRES_*` variables in the environment that are neither suite switches nor suite settings."""
    return [
        name
        for name in os.environ
        if name.upper().startswith("IDRES_")
        and name.upper() not in SUITE_CONTROLS
        and name not in SUITE_SETTINGS
    ]


# Before anything of idres is imported: some modules resolve settings when they are imported.
for _name in _developer_settings():
    del os.environ[_name]
os.environ.update(SUITE_SETTINGS)

import domain.settings as settings_module  # noqa: E402
from domain.settings import IngestSettings, Settings  # noqa: E402
from store import Store, open_store  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_from_developer(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """Each test starts without the developer's `IDRES_*` variables and without any `idres.toml`.

    The configuration file is looked up in the working directory and the project root: the test runs
    in an empty folder of its own, which stands in for the project root too. A test wanting a file or
    a variable sets it itself (monkeypatch).
    """
    for name in _developer_settings():
        monkeypatch.delenv(name)
    for name, value in SUITE_SETTINGS.items():
        monkeypatch.setenv(name, value)
    workdir = tmp_path_factory.mktemp("cwd", numbered=True)  # apart from tmp_path, which tests list
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", workdir)
    return workdir


@pytest.fixture
def ingest_settings(tmp_path: Path) -> IngestSettings:
    """Ingest settings whose data docs go to tmp_path."""
    return IngestSettings(data_docs_dir=tmp_path / "gx_docs", landing_dir=tmp_path / "landing")


@pytest.fixture
def settings(tmp_path: Path, ingest_settings: IngestSettings) -> Settings:
    """Settings with the store and every output folder under tmp_path."""
    return Settings(store=tmp_path / "store.duckdb", ingest=ingest_settings)


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """A fresh, migrated store in tmp_path."""
    with open_store(settings.store) as session:
        yield session


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect server for the whole session (it takes several seconds to start)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):  # a loaded 2-core machine took over 120 s
        yield
