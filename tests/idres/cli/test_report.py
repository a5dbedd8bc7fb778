"""`idres report`: one offline HTML file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from idres.cli.app import app
from idres.settings import Settings
from reporting.html import TITLES
from store import Store
from tests.reporting.builders import matched_store

runner = CliRunner()


def test_report_writes_one_offline_html_file(tmp_path: Path, settings: Settings, store: Store) -> None:
    matched_store(tmp_path, settings, store)
    store.close()  # the command opens the file itself
    out = tmp_path / "out" / "report.html"
    result = runner.invoke(
        app, ["report", "--out", str(out), "--store", str(settings.store), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["out"] == str(out) and summary["bytes"] == out.stat().st_size
    page = out.read_text(encoding="utf-8")
    assert all(title in page for title in TITLES.values())
    assert not re.search(r"<script[^>]+src=[\"']?https?://", page, re.IGNORECASE)


def test_report_refuses_a_non_html_name_and_a_missing_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--out", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2 and "give --out a .html file" in result.output
    result = runner.invoke(
        app, ["report", "--out", str(tmp_path / "r.html"), "--store", str(tmp_path / "no.duckdb")]
    )
    assert result.exit_code == 1 and "no store at" in result.output
