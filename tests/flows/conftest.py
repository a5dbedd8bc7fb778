"""Fixtures of the flow tests: a landing folder the flows are configured to read."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def landing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty landing folder in tmp_path, set as the flows' landing folder (data docs beside it)."""
    folder = tmp_path / "landing"
    folder.mkdir()
    monkeypatch.setenv("IDRES_INGEST__LANDING_DIR", str(folder))
    monkeypatch.setenv("IDRES_INGEST__DATA_DOCS_DIR", str(tmp_path / "docs"))
    return folder
