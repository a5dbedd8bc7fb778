"""Training labels: every decision kind (approve, reject, bulk approve, manual merge, undo) leaves one."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from domain.settings import ReviewSettings, Settings
from matching.learning import latest_labels
from review.decisions import approve, bulk_approve, reject
from review.errors import ReviewError
from review.merging import apply_approved, merge_customers, undo_merge
from store import Store, open_store, utcnow
from store import labels as label_sql
from tests.review.builders import add_suggestion, people_store

EVIDENCE = [
    {"field": "email", "value_l": "a@x", "value_r": "a@x", "level": "exact", "weight": 9.1},
    {"field": "first_name", "value_l": "Alice", "value_r": "Alice", "level": "exact", "weight": 4.0},
]


@pytest.fixture
def people(settings: Settings) -> Iterator[Store]:
    with open_store(people_store(settings)) as store:
        yield store


def scored(store: Store, left: int, right: int, probability: float = 0.9) -> int:
    """A suggestion as match run 1 (configuration cfg-a) stored it: best identity pair and evidence."""
    sid = add_suggestion(store, left, right, probability=probability)
    with store.transaction():
        if not store.scalar("SELECT count(*) FROM match_runs WHERE run_id = 1"):
            store.execute(
                """INSERT INTO match_runs (run_id, mode, status, started_at, config_id)
                VALUES (1, 'full', 'succeeded', ?, 'cfg-a')""",
                [utcnow()],
            )
        ids = [
            store.scalar("SELECT min(identity_id) FROM identities WHERE customer_id = ?", [c])
            for c in (left, right)
        ]
        store.execute(
            """UPDATE suggestions SET identity_id_l = ?, identity_id_r = ?, evidence = ?, updated_run_id = 1
            WHERE suggestion_id = ?""",
            [ids[0], ids[1], json.dumps(EVIDENCE), sid],
        )
    return sid


def _labels(store: Store) -> list[dict]:
    return store.rows("SELECT * FROM labels ORDER BY label_id")


def test_approve_is_a_match_label_with_the_runs_configuration_and_no_values(people: Store) -> None:
    sid = scored(people, 1, 2, probability=0.93)
    approve(people, sid, "alice")
    (label,) = _labels(people)
    assert label["is_match"] is True and label["kind"] == "approve"
    assert (label["identity_id_l"], label["identity_id_r"]) == (1, 2)
    assert label["config_id"] == "cfg-a" and label["run_id"] == 1
    assert label["probability"] == 0.93 and label["decided_by"] == "alice"
    assert json.loads(label["levels"]) == {"email": "exact", "first_name": "exact"}
    assert "a@x" not in label["levels"]  # the comparison only, never the compared values


def test_reject_is_a_non_match_label(people: Store) -> None:
    sid = scored(people, 3, 4)
    reject(people, sid, "bob", comment="different people")
    (label,) = _labels(people)
    assert label["is_match"] is False and label["kind"] == "reject"


def test_a_refused_decision_leaves_no_label(people: Store) -> None:
    sid = scored(people, 1, 2)
    approve(people, sid, "alice")
    with pytest.raises(ReviewError):
        reject(people, sid, "bob")
    assert [r["kind"] for r in _labels(people)] == ["approve"]


def test_bulk_approve_labels_every_approved_pair(people: Store) -> None:
    a, b = scored(people, 1, 2, 0.95), scored(people, 3, 4, 0.91)
    bulk_approve(people, "carol", 0.9)
    labels = _labels(people)
    assert sorted(r["suggestion_id"] for r in labels) == sorted([a, b])
    assert all(r["is_match"] and r["kind"] == "approve" for r in labels)


def test_manual_merge_without_suggestion_labels_the_customers_pairs_as_one_decision(people: Store) -> None:
    merge_customers(people, 5, 6, "dana", ReviewSettings())
    labels = _labels(people)
    assert labels and all(r["kind"] == "manual_merge" and r["is_match"] for r in labels)
    assert sum(r["weight"] for r in labels) == pytest.approx(1.0)
    assert label_sql.counts_by_kind(people) == {"manual_merge": 1}


def test_manual_merge_of_a_suggested_pair_labels_its_pair(people: Store) -> None:
    sid = scored(people, 1, 2)
    merge_customers(people, 1, 2, "dana", ReviewSettings())
    (label,) = _labels(people)
    assert label["suggestion_id"] == sid and label["kind"] == "manual_merge" and label["merge_id"] is not None


def test_undo_turns_the_pair_into_a_non_match(people: Store) -> None:
    sid = scored(people, 1, 2)
    approve(people, sid, "alice")
    apply_approved(people, "system", ReviewSettings())
    merge_id = people.scalar("SELECT max(merge_id) FROM merges")
    undo_merge(people, merge_id, "erin")
    kinds = [(r["kind"], r["is_match"]) for r in _labels(people)]
    assert kinds == [("approve", True), ("undo", False)]
    latest = latest_labels(label_sql.training_labels(people))
    assert latest.height == 1 and latest.get_column("is_match").to_list() == [False]


def test_undo_of_a_manual_merge_replaces_its_labels(people: Store) -> None:
    merge = merge_customers(people, 5, 6, "dana", ReviewSettings())
    undo_merge(people, merge["merge_id"], "erin")
    latest = latest_labels(label_sql.training_labels(people))
    assert latest.height >= 1 and not any(latest.get_column("is_match").to_list())
