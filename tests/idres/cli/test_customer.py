"""`idres customer show/search/lock/unlock/edit/comment` on a small store (`customer merge`: test_merges)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from idres.cli.app import app
from tests.idres.cli.invoke import json_on, run_on

runner = CliRunner()


def test_lock_blocks_edit_until_unlocked(review_queue: Path) -> None:
    assert "customer 2 locked by alice (reason: fraud check)" in run_on(
        review_queue, "customer", "lock", "2", "--agent", "alice", "--reason", "fraud check"
    )
    refused = run_on(review_queue, "customer", "edit", "2", "--agent", "bob", "--city", "York", ok=False)
    assert "customer 2 is locked (reason: fraud check)" in " ".join(refused.split())
    approve = run_on(review_queue, "suggestions", "approve", "1", "--agent", "bob", ok=False)
    assert "locked" in approve
    shown = run_on(review_queue, "customer", "show", "2")
    assert "LOCKED (fraud check)" in shown
    run_on(review_queue, "customer", "unlock", "2", "--agent", "alice")
    edited = json_on(
        review_queue, "customer", "edit", "2", "--agent", "bob", "--city", "York", "--email", "A@B.com"
    )
    assert isinstance(edited, dict) and edited["changed"]["emails"]["new"] == ["a@b.com"]


def test_edit_comment_and_show(review_queue: Path) -> None:
    text = run_on(
        review_queue, "customer", "edit", "1", "--agent", "bob", "--first-name", "Alicia", "--phone", "07911 123499",
        "--birth-date", "1990-09-11",
    )  # fmt: skip
    assert "Alicia" in text and "+447911123499" in text
    added = json_on(review_queue, "customer", "comment", "1", "prefers email", "--agent", "bob")
    assert isinstance(added, dict) and added["comment_id"] == 1
    record = json_on(review_queue, "customer", "show", "1")
    assert isinstance(record, dict)
    assert record["profile"]["first_name"] == "Alicia"
    assert record["profile"]["agent_edited"] == ["first_name", "birth_date", "phones"]
    assert [c["body"] for c in record["comments"]] == ["prefers email"]
    assert "prefers email" in run_on(review_queue, "customer", "show", "1")


def test_search(review_queue: Path) -> None:
    rows = json_on(review_queue, "customer", "search", "brian novak", "--limit", "1")
    assert isinstance(rows, list) and [r["identity_id"] for r in rows] == [3]
    assert rows[0]["customer_id"] == 3 and rows[0]["score"] > 80
    assert "chloe@ortiz.net" in run_on(review_queue, "customer", "search", "chloe@ortiz")


def test_unknown_customer_and_bad_configuration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "s.duckdb"
    result = runner.invoke(app, ["customer", "show", "42", "--store", str(store)])
    assert result.exit_code == 1 and "no customer 42" in result.output
    monkeypatch.setenv("IDRES_INGEST__DEFAULT_REGION", "Britain")
    result = runner.invoke(app, ["status", "--store", str(store)])
    assert result.exit_code == 2 and "default_region" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["customer", "lock", "1", "--agent", "a", "--reason", " "], "needs a reason"),
        (["customer", "edit", "1", "--agent", "a", "--email", "nope"], "not a valid email address"),
        (["customer", "comment", "1", " ", "--agent", "a"], "cannot be empty"),
        (["customer", "search", "x"], "at least 2 characters"),
    ],
)
def test_bad_requests_fail_with_the_reason(review_queue: Path, args: list[str], message: str) -> None:
    assert message in " ".join(run_on(review_queue, *args, ok=False).split())
