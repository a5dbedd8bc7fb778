"""Shared fixtures: settings and small stores in tmp_path, and one Prefect test harness per session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# Test processes must not phone home (no network here) nor share the developer's Prefect database.
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# No background Prefect server outliving the tests: flows run on the session harness (or Prefect's
# temporary server); tests/flows/test_warm_server.py starts warm servers itself, in tmp_path.
os.environ.setdefault("IDRES_PREFECT__WARM_SERVER", "false")
# Rich wraps tables to the terminal; a fixed wide console keeps CLI output assertions stable.
os.environ["COLUMNS"] = "200"

from idres.settings import IngestSettings, Settings
from store import Store, open_store


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

    with prefect_test_harness(server_startup_timeout=120):
        yield
