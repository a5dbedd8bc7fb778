"""`idres report`: one offline HTML file."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from domain.settings import Settings
from idres.cli.app import app
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


def test_report_with_a_truth_file_and_the_learning_summary(
    tmp_path: Path, settings: Settings, store: Store
) -> None:
    from review.decisions import approve

    matched_store(tmp_path, settings, store)
    sid = store.scalar("SELECT min(suggestion_id) FROM suggestions WHERE status = 'pending'")
    approve(store, sid, "ann")
    store.close()
    truth = tmp_path / "truth.csv"
    truth.write_text("channel,external_id,entity_id\nemail,nobody@x,P1\n", encoding="utf-8")
    out = tmp_path / "report.html"
    args = [
        "report",
        "--out",
        str(out),
        "--truth",
        str(truth),
        "--store",
        str(settings.store),
        "--format",
        "json",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["learning"] == {"labels_used": 0, "decisions": {"approve": 1}}
    assert "Learning from decisions" in out.read_text(encoding="utf-8")
    missing = runner.invoke(app, ["report", "--out", str(out), "--truth", str(tmp_path / "none.csv"),
                                  "--store", str(settings.store)])  # fmt: skip
    assert missing.exit_code == 2 and "no truth file" in missing.output
