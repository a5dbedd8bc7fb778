"""`idres suggestions list/show/export/approve/reject` (and `customers export`) on small stores."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from store import open_store
from tests.idres.cli.invoke import invoke, json_on, run_on, suggestion_status
from tests.review.builders import add_suggestion, simulate_merge


def test_list_show_and_export(tmp_path: Path, matched: Path) -> None:
    listed = json.loads(invoke(["suggestions", "list", "--store", str(matched), "--format", "json"]))
    assert listed and all(row["status"] == "pending" for row in listed)
    top = listed[0]
    assert top["probability"] >= listed[-1]["probability"]
    shown = json.loads(
        invoke(
            ["suggestions", "show", str(top["suggestion_id"]), "--store", str(matched), "--format", "json"]
        )
    )
    assert shown["suggestion_id"] == top["suggestion_id"]
    assert {"field", "value_l", "value_r", "level", "weight"} <= set(shown["evidence"][0])
    assert shown["identities_l"] and shown["identities_r"]
    text = invoke(["suggestions", "show", str(top["suggestion_id"]), "--store", str(matched)])
    assert "Evidence" in text
    for suffix in ("jsonl", "csv", "parquet"):
        out = tmp_path / f"suggestions.{suffix}"
        invoke(["suggestions", "export", "--out", str(out), "--store", str(matched)])
        assert out.exists()
    jsonl = pl.read_ndjson(tmp_path / "suggestions.jsonl")
    assert jsonl.height >= len(listed) and jsonl.schema["identities_l"] == pl.List(pl.String)
    csv = pl.read_csv(tmp_path / "suggestions.csv")
    assert ":" in csv["identities_l"][0]
    invoke(["customers", "export", "--out", str(tmp_path / "customers.csv"), "--store", str(matched)])
    assert pl.read_csv(tmp_path / "customers.csv").height == 102


def test_show_unknown_suggestion_fails(matched: Path) -> None:
    assert "no suggestion 999999" in invoke(
        ["suggestions", "show", "999999", "--store", str(matched)], code=1
    )


def test_approve_and_reject_one(review_queue: Path) -> None:
    text = run_on(review_queue, "suggestions", "approve", "1", "--agent", "alice", "--comment", "same person")
    assert "suggestion 1 approved by alice" in text and "apply-merges" in text
    rejected = json_on(review_queue, "suggestions", "reject", "2", "--agent", "bob")
    assert isinstance(rejected, dict) and rejected["status"] == "rejected"
    assert (suggestion_status(review_queue, 1), suggestion_status(review_queue, 2)) == (
        "approved",
        "rejected",
    )
    again = run_on(review_queue, "suggestions", "reject", "1", "--agent", "bob", ok=False)
    assert "already approved by alice" in again


def test_bulk_approve(review_queue: Path) -> None:
    results = json_on(review_queue, "suggestions", "approve", "--min-probability", "0.9", "--agent", "carol")
    assert isinstance(results, list)
    assert [(r["suggestion_id"], r["outcome"]) for r in results] == [(1, "approved"), (2, "approved")]
    assert suggestion_status(review_queue, 3) == "pending"
    text = run_on(review_queue, "suggestions", "approve", "--min-probability", "0.5", "--agent", "carol")
    assert "1 approved, 0 skipped" in text


def test_stale_suggestions_are_explained(review_queue: Path) -> None:
    with open_store(review_queue) as store:
        simulate_merge(store, 4, 5)  # suggestion 2 (3, 4) now joins 3 and 5
        simulate_merge(store, 6, 5)  # suggestion 3 (5, 6): both sides are customer 5 now
        store.execute("UPDATE customers SET locked = TRUE, lock_reason = 'vip' WHERE customer_id = 2")
    text = run_on(review_queue, "suggestions", "approve", "--min-probability", "0.5", "--agent", "carol")
    flat = " ".join(text.split())
    assert "1 approved, 2 skipped" in flat
    assert "customer 2 is locked (reason: vip)" in flat and "already merged into 5" in flat
    assert (
        suggestion_status(review_queue, 1),
        suggestion_status(review_queue, 2),
        suggestion_status(review_queue, 3),
    ) == (
        "pending",
        "approved",
        "superseded",
    )
    with open_store(review_queue) as store:
        sid = add_suggestion(store, 1, 6)
    text = run_on(review_queue, "suggestions", "approve", str(sid), "--agent", "carol")
    assert "note: customer 6 was merged into 5" in text and "customers 1 and 5" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["suggestions", "approve", "--agent", "a"], "either a suggestion ID or --min-probability"),
        (["suggestions", "approve", "1", "--min-probability", "0.9", "--agent", "a"], "not both"),
        (["suggestions", "approve", "1", "--band", "review", "--agent", "a"], "filter bulk approval"),
        (["suggestions", "approve", "--min-probability", "1.5", "--agent", "a"], "at most 1"),
        (["suggestions", "approve", "1"], "agent name is required"),
        (["suggestions", "approve", "42", "--agent", "a"], "no suggestion 42"),
    ],
)
def test_bad_requests_fail_with_the_reason(review_queue: Path, args: list[str], message: str) -> None:
    assert message in " ".join(run_on(review_queue, *args, ok=False).split())


def test_decide_from_a_file_reports_what_it_could_not_apply(tmp_path: Path, review_queue: Path) -> None:
    path = tmp_path / "decisions.csv"
    path.write_text(
        "suggestion_id,decision,agent,comment\n2,approve,alice,same person\n3,reject,,\n404,approve,alice,\n",
        encoding="utf-8",
    )
    out = run_on(review_queue, "suggestions", "decide", "--file", str(path), "--agent", "bob", ok=False)
    assert "3 rows, 2 applied, 0 unchanged, 1 not applied" in out and "no suggestion 404" in out
    assert (
        suggestion_status(review_queue, 2) == "approved" and suggestion_status(review_queue, 3) == "rejected"
    )
    again = run_on(
        review_queue,
        "suggestions",
        "decide",
        "--file",
        str(path),
        "--agent",
        "bob",
        "--format",
        "json",
        ok=False,
    )
    report = json.loads(again)  # a re-run: the decided rows are unchanged, the bad one still reported
    assert report["unchanged"] == 2 and report["not applied"] == 1


def test_list_in_the_informative_order(review_queue: Path) -> None:
    from matching.learning import informative_first

    rows = json_on(review_queue, "suggestions", "list", "--order", "informative")
    assert isinstance(rows, list)
    ids = [r["suggestion_id"] for r in rows]
    expected = informative_first(pl.DataFrame(rows)).get_column("suggestion_id").to_list()
    assert ids == expected and len(ids) == 3
    run_on(review_queue, "suggestions", "list", "--order", "random", ok=False)
