"""Tests do not see the developer's `IDRES_*` variables nor an `idres.toml` where pytest is started."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from domain.settings import DEFAULT_STORE, IngestSettings, Settings, config_file

REPO = Path(__file__).resolve().parents[2]
SUITE_VARIABLES = {"IDRES_E2E_REQUIRED", "IDRES_PREFECT__WARM_SERVER"}


def test_settings_are_the_defaults_whatever_the_caller_exported() -> None:
    leaked = [
        name for name in os.environ if name.upper().startswith("IDRES_") and name not in SUITE_VARIABLES
    ]
    assert not leaked, f"leaked: {sorted(leaked)}"
    assert config_file() is None
    loaded = Settings()
    assert loaded.store == DEFAULT_STORE
    assert loaded.ingest.default_region == IngestSettings().default_region


def test_settings_fixture_builds_on_the_defaults(settings: Settings, tmp_path: Path) -> None:
    assert settings.store.parent == tmp_path
    assert settings.ingest.default_region == IngestSettings().default_region


@pytest.mark.slow
def test_a_developer_environment_does_not_reach_the_tests(tmp_path: Path) -> None:
    config = tmp_path / "idres.toml"
    config.write_text(
        'store = "/nowhere/from-toml.duckdb"\n[ingest]\ndefault_region = "US"\n', encoding="utf-8"
    )
    env = {
        **os.environ,
        "IDRES_STORE": "/nowhere/from-env.duckdb",
        "IDRES_INGEST__DEFAULT_REGION": "FR",
        "idres_match__review_threshold": "0.5",  # pydantic-settings matches names case-insensitively
    }
    tests = [f"{__file__}::test_settings_are_the_defaults_whatever_the_caller_exported"]
    tests.append(f"{__file__}::test_settings_fixture_builds_on_the_defaults")
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--tb=short",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        str(REPO),
        *tests,
    ]

    isolated = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert isolated.returncode == 0, isolated.stdout + isolated.stderr
    assert "2 passed" in isolated.stdout

    # without tests/conftest.py the same checks see the caller's settings: they can fail
    exposed = subprocess.run(
        [*command[:-2], "--noconftest", tests[0]],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert exposed.returncode == 1, exposed.stdout + exposed.stderr
    assert (
        "leaked: ['IDRES_INGEST__DEFAULT_REGION', 'IDRES_STORE', 'idres_match__review_threshold']"
        in exposed.stdout
    )
