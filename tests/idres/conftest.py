"""Fixtures of the idres package's tests: a configuration file in tmp_path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WriteConfig = Callable[[str], Path]


@pytest.fixture
def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WriteConfig:
    """A function writing an idres.toml in tmp_path that IDRES_CONFIG points at; it returns the path."""

    def write(text: str) -> Path:
        path = tmp_path / "idres.toml"
        path.write_text(text, encoding="utf-8")
        monkeypatch.setenv("IDRES_CONFIG", str(path))
        return path

    return write
