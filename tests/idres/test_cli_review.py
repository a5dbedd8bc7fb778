"""`idres suggestions approve/reject` and `idres customer search/lock/unlock/edit/comment` on a small store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from idres.cli import app
from idres.settings import Settings
from store import open_store
from tests.review.builders import add_suggestion, people_store, simulate_merge


@pytest.fixture
def people(settings: Settings) -> Path:
    """A store of six one-identity customers and three pending suggestions; returns its path."""
    with open_store(people_store(settings)) as store:
        add_suggestion(store, 1, 2, probability=0.99, band="auto_approve")
        add_suggestion(store, 3, 4, probability=0.93)
        add_suggestion(store, 5, 6, probability=0.60)
    return settings.store


def _run(store: Path, *args: str, ok: bool = True) -> str:
    result = CliRunner().invoke(app, [*args, "--store", str(store)])
    if ok:
        assert result.exit_code == 0, result.output
        return result.stdout
    assert result.exit_code != 0, result.output
    return result.output


def _json(store: Path, *args: str) -> object:
    return json.loads(_run(store, *args, "--format", "json"))


def _status(store: Path, suggestion_id: int) -> str:
    with open_store(store) as session:
        return str(session.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [suggestion_id]))


def test_approve_and_reject_one(people: Path) -> None:
    text = _run(people, "suggestions", "approve", "1", "--agent", "alice", "--comment", "same person")
    assert "suggestion 1 approved by alice" in text and "apply-merges" in text
    rejected = _json(people, "suggestions", "reject", "2", "--agent", "bob")
    assert isinstance(rejected, dict) and rejected["status"] == "rejected"
    assert (_status(people, 1), _status(people, 2)) == ("approved", "rejected")
    again = _run(people, "suggestions", "reject", "1", "--agent", "bob", ok=False)
    assert "already approved by alice" in again


def test_bulk_approve(people: Path) -> None:
    results = _json(people, "suggestions", "approve", "--min-probability", "0.9", "--agent", "carol")
    assert isinstance(results, list)
    assert [(r["suggestion_id"], r["outcome"]) for r in results] == [(1, "approved"), (2, "approved")]
    assert _status(people, 3) == "pending"
    text = _run(people, "suggestions", "approve", "--min-probability", "0.5", "--agent", "carol")
    assert "1 approved, 0 skipped" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["suggestions", "approve", "--agent", "a"], "either a suggestion ID or --min-probability"),
        (["suggestions", "approve", "1", "--min-probability", "0.9", "--agent", "a"], "not both"),
        (["suggestions", "approve", "1", "--band", "review", "--agent", "a"], "filter bulk approval"),
        (["suggestions", "approve", "--min-probability", "1.5", "--agent", "a"], "at most 1"),
        (["suggestions", "approve", "1"], "agent name is required"),
        (["suggestions", "approve", "42", "--agent", "a"], "no suggestion 42"),
        (["customer", "lock", "1", "--agent", "a", "--reason", " "], "needs a reason"),
        (["customer", "edit", "1", "--agent", "a", "--email", "nope"], "not a valid email address"),
        (["customer", "comment", "1", " ", "--agent", "a"], "cannot be empty"),
        (["customer", "search", "x"], "at least 2 characters"),
    ],
)
def test_bad_requests_fail_with_the_reason(people: Path, args: list[str], message: str) -> None:
    assert message in " ".join(_run(people, *args, ok=False).split())


def test_lock_blocks_edit_until_unlocked(people: Path) -> None:
    assert "customer 2 locked by alice (reason: fraud check)" in _run(
        people, "customer", "lock", "2", "--agent", "alice", "--reason", "fraud check"
    )
    refused = _run(people, "customer", "edit", "2", "--agent", "bob", "--city", "York", ok=False)
    assert "customer 2 is locked (reason: fraud check)" in " ".join(refused.split())
    approve = _run(people, "suggestions", "approve", "1", "--agent", "bob", ok=False)
    assert "locked" in approve
    shown = _run(people, "customer", "show", "2")
    assert "LOCKED (fraud check)" in shown
    _run(people, "customer", "unlock", "2", "--agent", "alice")
    edited = _json(people, "customer", "edit", "2", "--agent", "bob", "--city", "York", "--email", "A@B.com")
    assert isinstance(edited, dict) and edited["changed"]["emails"]["new"] == ["a@b.com"]


def test_edit_comment_and_show(people: Path) -> None:
    text = _run(
        people, "customer", "edit", "1", "--agent", "bob", "--first-name", "Alicia", "--phone", "07911 123499",
        "--birth-date", "1990-09-11",
    )  # fmt: skip
    assert "Alicia" in text and "+447911123499" in text
    added = _json(people, "customer", "comment", "1", "prefers email", "--agent", "bob")
    assert isinstance(added, dict) and added["comment_id"] == 1
    record = _json(people, "customer", "show", "1")
    assert isinstance(record, dict)
    assert record["profile"]["first_name"] == "Alicia"
    assert record["profile"]["agent_edited"] == ["first_name", "birth_date", "phones"]
    assert [c["body"] for c in record["comments"]] == ["prefers email"]
    assert "prefers email" in _run(people, "customer", "show", "1")


def test_search(people: Path) -> None:
    rows = _json(people, "customer", "search", "brian novak", "--limit", "1")
    assert isinstance(rows, list) and [r["identity_id"] for r in rows] == [3]
    assert rows[0]["customer_id"] == 3 and rows[0]["score"] > 80
    assert "chloe@ortiz.net" in _run(people, "customer", "search", "chloe@ortiz")


def test_stale_suggestions_are_explained(people: Path) -> None:
    with open_store(people) as store:
        simulate_merge(store, 4, 5)  # suggestion 2 (3, 4) now joins 3 and 5
        simulate_merge(store, 6, 5)  # suggestion 3 (5, 6): both sides are customer 5 now
        store.execute("UPDATE customers SET locked = TRUE, lock_reason = 'vip' WHERE customer_id = 2")
    text = _run(people, "suggestions", "approve", "--min-probability", "0.5", "--agent", "carol")
    flat = " ".join(text.split())
    assert "1 approved, 2 skipped" in flat
    assert "customer 2 is locked (reason: vip)" in flat and "already merged into 5" in flat
    assert (_status(people, 1), _status(people, 2), _status(people, 3)) == (
        "pending",
        "approved",
        "superseded",
    )
    with open_store(people) as store:
        sid = add_suggestion(store, 1, 6)
    text = _run(people, "suggestions", "approve", str(sid), "--agent", "carol")
    assert "note: customer 6 was merged into 5" in text and "customers 1 and 5" in text
