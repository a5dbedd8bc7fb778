"""review.bulk_decisions: decisions from a CSV or JSON Lines file, through the audited path."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.settings import ReviewSettings, Settings
from review.bulk_decisions import decide_file
from review.errors import ReviewError
from store import Store, open_store
from tests.helpers import write_csv
from tests.review.builders import add_suggestion, people_store, suggestion

HEADER = [
    "suggestion_id",
    "channel_l",
    "external_id_l",
    "channel_r",
    "external_id_r",
    "decision",
    "agent",
    "comment",
]


@pytest.fixture
def people(settings: Settings) -> Iterator[Store]:
    with open_store(people_store(settings)) as store:
        yield store


def _audits(store: Store, action: str) -> int:
    return int(store.scalar("SELECT count(*) FROM audit_log WHERE action = ?", [action]))


def test_csv_rows_by_suggestion_and_by_identities_are_decided_and_audited(
    people: Store, tmp_path: Path
) -> None:
    a = add_suggestion(people, 1, 2)
    b = add_suggestion(people, 3, 4)
    path = write_csv(
        tmp_path / "decisions.csv",
        HEADER,
        [
            [str(a), "", "", "", "", "approve", "alice", "same phone"],
            # the second pair named by its identities, as a spreadsheet would (case of the id ignored)
            ["", "email", "Brian.Novak@example.org", "twitter", "tw-99", "reject", "", "different people"],
        ],
    )
    report = decide_file(people, path, "bob")
    assert (report["applied"], report["unchanged"], report["not applied"]) == (2, 0, 0)
    assert suggestion(people, a)["status"] == "approved" and suggestion(people, a)["decided_by"] == "alice"
    assert suggestion(people, b)["status"] == "rejected" and suggestion(people, b)["decided_by"] == "bob"
    assert _audits(people, "suggestion_approve") == 1 and _audits(people, "suggestion_reject") == 1
    assert _audits(people, "suggestions_decide_file") == 1
    assert people.scalar("SELECT count(*) FROM cannot_links") == 1  # a rejection is a cannot-link, as always


def test_json_lines_and_what_could_not_be_applied_with_why(people: Store, tmp_path: Path) -> None:
    a = add_suggestion(people, 1, 2)
    lines = [
        json.dumps({"suggestion_id": a, "decision": "approve", "agent": "alice"}),
        "{not json",
        json.dumps({"suggestion_id": a, "decision": "maybe", "agent": "alice"}),
        json.dumps({"suggestion_id": 999, "decision": "reject", "agent": "alice"}),
        json.dumps({"suggestion_id": a, "decision": "reject"}),  # no agent, none given to the command
        json.dumps(
            {
                "channel_l": "email",
                "external_id_l": "nobody@x.org",
                "channel_r": "chat",
                "external_id_r": "c-derek",
                "decision": "reject",
                "agent": "alice",
            }
        ),
        json.dumps(
            {
                "channel_l": "email",
                "external_id_l": "chloe@ortiz.net",
                "channel_r": "chat",
                "external_id_r": "c-derek",
                "decision": "approve",
                "agent": "alice",
            }
        ),
    ]
    path = tmp_path / "decisions.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = decide_file(people, path)
    reasons = {r["line"]: (r["outcome"], r["reason"]) for r in report["results"]}
    assert reasons[1][0] == "applied"
    assert reasons[2][0] == "not applied" and "not JSON" in reasons[2][1]
    assert "approve or reject" in reasons[3][1]
    assert "no suggestion 999" in reasons[4][1]
    assert "agent name is required" in reasons[5][1]
    assert "no identity email:nobody@x.org" in reasons[6][1]
    assert (
        "no suggestion between customers 5 and 6" in reasons[7][1] and "--merge-unsuggested" in reasons[7][1]
    )
    assert report["applied"] == 1 and report["not applied"] == 6
    assert people.scalar("SELECT count(*) FROM merges") == 0  # nothing merged without being asked


def test_unsuggested_pairs_rejected_or_merged_on_request(people: Store, tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "d.csv",
        HEADER,
        [
            ["", "email", "chloe@ortiz.net", "chat", "c-derek", "reject", "alice", ""],
            ["", "email", "alice@example.com", "chat", "c-alice", "approve", "alice", ""],
        ],
    )
    report = decide_file(people, path, merge_unsuggested=True, review=ReviewSettings())
    assert report["applied"] == 2
    assert (
        people.scalar("SELECT count(*) FROM cannot_links WHERE customer_id_a = 5 AND customer_id_b = 6") == 1
    )
    assert people.scalar("SELECT count(*) FROM merges WHERE kind = 'manual'") == 1
    kinds = [r["kind"] for r in people.rows("SELECT kind FROM labels ORDER BY label_id")]
    assert kinds[0] == "reject" and "manual_merge" in kinds  # both are labels the model learns from
    assert _audits(people, "pair_reject") == 1


def test_a_second_run_of_the_same_file_changes_nothing(people: Store, tmp_path: Path) -> None:
    a = add_suggestion(people, 1, 2)
    with people.transaction():  # the identity pair a match run stores with the suggestion
        people.execute(
            "UPDATE suggestions SET identity_id_l = 1, identity_id_r = 2 WHERE suggestion_id = ?", [a]
        )
    path = write_csv(tmp_path / "d.csv", HEADER, [[str(a), "", "", "", "", "approve", "alice", ""]])
    assert decide_file(people, path)["applied"] == 1
    again = decide_file(people, path)
    assert (again["applied"], again["unchanged"], again["not applied"]) == (0, 1, 0)
    assert people.scalar("SELECT count(*) FROM labels") == 1


def test_a_missing_file_is_an_error(people: Store, tmp_path: Path) -> None:
    with pytest.raises(ReviewError, match="no file"):
        decide_file(people, tmp_path / "nope.csv", "alice")
