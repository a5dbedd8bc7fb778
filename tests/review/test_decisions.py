"""review.decisions against small stores: approve, reject, bulk approve, stale and conflicting suggestions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.settings import Settings
from ingest.pipeline import ingest_file
from matching import MatchConfig, run_match
from review.decisions import approve, bulk_approve, reject
from review.errors import ReviewError
from store import Store, match_runs, open_store, utcnow
from tests.helpers import write_csv
from tests.review.builders import add_suggestion, people_store, simulate_merge, suggestion


@pytest.fixture
def people(settings: Settings) -> Iterator[Store]:
    with open_store(people_store(settings)) as store:
        yield store


def _audit(store: Store, action: str) -> list[dict]:
    rows = store.rows("SELECT * FROM audit_log WHERE action = ? ORDER BY audit_id", [action])
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


def test_approve_records_the_decision_and_audits(people: Store) -> None:
    sid = add_suggestion(people, 1, 2, probability=0.97)
    result = approve(people, sid, " alice ", comment="  same phone  ")
    row = suggestion(people, sid)
    assert row["status"] == "approved" and result["status"] == "approved"
    assert row["decided_by"] == "alice" and row["decision_comment"] == "same phone"
    assert row["decided_at"] is not None
    (entry,) = _audit(people, "suggestion_approve")
    assert entry["actor"] == "alice" and entry["subject_id"] == str(sid)
    assert entry["details"]["customers"] == [1, 2] and entry["details"]["probability"] == 0.97
    # approving does not merge
    assert people.scalar("SELECT count(*) FROM customers WHERE status = 'merged'") == 0


def test_decided_suggestion_cannot_be_decided_again(people: Store) -> None:
    sid = add_suggestion(people, 1, 2)
    approve(people, sid, "alice")
    with pytest.raises(ReviewError, match=r"already approved by alice"):
        reject(people, sid, "bob")
    assert suggestion(people, sid)["status"] == "approved"


def test_unknown_suggestion_and_missing_agent(people: Store) -> None:
    with pytest.raises(ReviewError, match="no suggestion 404"):
        approve(people, 404, "alice")
    sid = add_suggestion(people, 1, 2)
    with pytest.raises(ReviewError, match="agent name is required"):
        approve(people, sid, "  ")


def test_reject_records_a_cannot_link(people: Store) -> None:
    sid = add_suggestion(people, 4, 3)
    reject(people, sid, "bob", comment="different people")
    assert suggestion(people, sid)["status"] == "rejected"
    links = people.rows("SELECT * FROM cannot_links")
    assert len(links) == 1
    link = links[0]
    assert (link["customer_id_a"], link["customer_id_b"]) == (3, 4)
    assert (
        link["suggestion_id"] == sid and link["created_by"] == "bob" and link["reason"] == "different people"
    )
    assert _audit(people, "suggestion_reject")[0]["details"]["customers"] == [3, 4]


def test_cannot_linked_pair_is_never_approved(people: Store) -> None:
    reject(people, add_suggestion(people, 3, 4), "bob")
    # a later run reopens the pair with new evidence: the rejection still stands
    sid = add_suggestion(people, 1, 2)
    people.execute(
        "UPDATE suggestions SET customer_id_l = 3, customer_id_r = 4 WHERE suggestion_id = ?", [sid]
    )
    with pytest.raises(ReviewError, match="different people"):
        approve(people, sid, "alice")
    assert suggestion(people, sid)["status"] == "pending"


def test_stale_suggestion_is_repointed_then_approved(people: Store) -> None:
    sid = add_suggestion(people, 3, 5)
    simulate_merge(people, 5, 1)
    result = approve(people, sid, "alice")
    row = suggestion(people, sid)
    assert (row["customer_id_l"], row["customer_id_r"], row["status"]) == (1, 3, "approved")
    assert result["repointed"] == row["status_reason"] == "customer 5 was merged into 1"
    assert result["original_customers"] == [3, 5]
    assert _audit(people, "suggestion_repoint")[0]["details"]["to"] == [1, 3]


def test_suggestion_of_already_merged_customers_is_superseded(people: Store) -> None:
    sid = add_suggestion(people, 2, 3)
    simulate_merge(people, 2, 1)
    simulate_merge(people, 3, 1)
    with pytest.raises(ReviewError, match=r"superseded.*already merged into 1"):
        approve(people, sid, "alice")
    row = suggestion(people, sid)  # the supersession is kept although the approval was refused
    assert row["status"] == "superseded" and "already merged into 1" in row["status_reason"]


def test_anonymized_customer_supersedes_on_reject_too(people: Store) -> None:
    sid = add_suggestion(people, 1, 2)
    people.execute("UPDATE customers SET status = 'anonymized', anonymized_at = now() WHERE customer_id = 2")
    with pytest.raises(ReviewError, match="customer 2 was anonymized"):
        reject(people, sid, "bob")
    assert suggestion(people, sid)["status"] == "superseded"
    assert people.scalar("SELECT count(*) FROM cannot_links") == 0


def test_repointed_onto_an_existing_pair_is_superseded_in_its_favour(people: Store) -> None:
    existing = add_suggestion(people, 1, 3)
    sid = add_suggestion(people, 3, 5)
    simulate_merge(people, 5, 1)
    with pytest.raises(ReviewError, match=f"decide suggestion {existing} instead"):
        approve(people, sid, "alice")
    assert suggestion(people, sid)["status"] == "superseded"
    assert suggestion(people, existing)["status"] == "pending"


def test_locked_customer_blocks_approval_but_not_rejection(people: Store) -> None:
    people.execute("UPDATE customers SET locked = TRUE, lock_reason = 'fraud check' WHERE customer_id = 2")
    sid = add_suggestion(people, 1, 2)
    with pytest.raises(ReviewError, match=r"customer 2 is locked \(reason: fraud check\)"):
        approve(people, sid, "alice")
    assert suggestion(people, sid)["status"] == "pending"  # a lock is temporary: the suggestion waits
    reject(people, sid, "alice")
    assert suggestion(people, sid)["status"] == "rejected"


def test_held_suggestion_can_be_approved(people: Store) -> None:
    sid = add_suggestion(people, 1, 2, status="held")
    assert approve(people, sid, "alice")["status"] == "approved"


def test_bulk_approve_by_probability_band_and_channel(people: Store) -> None:
    high = add_suggestion(people, 1, 2, probability=0.99, band="auto_approve")
    mid = add_suggestion(people, 3, 4, probability=0.95)
    add_suggestion(people, 5, 6, probability=0.50)
    locked = add_suggestion(people, 1, 5, probability=0.96)
    people.execute("UPDATE customers SET locked = TRUE, lock_reason = 'vip' WHERE customer_id = 5")

    results = bulk_approve(people, "carol", 0.9, band="review", comment="batch")
    by_id = {r["suggestion_id"]: r for r in results}
    assert set(by_id) == {mid, locked}
    assert by_id[mid]["outcome"] == "approved"
    assert by_id[locked]["outcome"] == "skipped" and "locked" in by_id[locked]["reason"]
    assert suggestion(people, mid)["decision_comment"] == "batch"

    # channel: twitter is held only by customer 4 (already approved above) -> nothing left there
    assert bulk_approve(people, "carol", 0.9, channel="twitter") == []
    # customer 2 has a chat identity; customers 1 and 5 (the locked pair) do not
    results = bulk_approve(people, "carol", 0.9, channel="chat")
    assert [(r["suggestion_id"], r["outcome"]) for r in results] == [(high, "approved")]
    assert suggestion(people, high)["status"] == "approved"
    assert [r["details"]["approved"] for r in _audit(people, "suggestion_bulk_approve")] == [1, 0, 1]


@pytest.mark.parametrize("probability", [0, -0.1, 1.5])
def test_bulk_approve_validates_the_probability(people: Store, probability: float) -> None:
    with pytest.raises(ReviewError, match="min-probability"):
        bulk_approve(people, "carol", probability)


def test_bulk_approve_skips_related_only(people: Store) -> None:
    sid = add_suggestion(people, 1, 2, probability=0.99, band="related")
    people.execute("UPDATE suggestions SET related_only = TRUE WHERE suggestion_id = ?", [sid])
    (result,) = bulk_approve(people, "carol", 0.5)
    assert result["outcome"] == "skipped" and suggestion(people, sid)["status"] == "pending"


HEADER = ["channel", "external_id", "first_name", "last_name", "email", "phone", "city"]


def _match(store: Store, settings: Settings) -> None:
    started = utcnow()
    identities, _changed, excluded = match_runs.load_match_input(store)
    result = run_match(identities, MatchConfig.from_settings(settings.match), excluded_customer_ids=excluded)
    match_runs.save_match_result(
        store, result, "full", started, utcnow(), identities.get_column("identity_id")
    )


def test_approval_survives_match_reruns(tmp_path: Path, settings: Settings, store: Store) -> None:
    firsts = ["alice", "brian", "chloe", "derek", "emma", "frank", "grace", "henry"]
    lasts = ["moss", "novak", "ortiz", "patel", "quinn", "reyes", "stone", "turner", "upton"]
    rows = [
        ["email", f"{f}.{ln}{i}@mail{i % 5}.com", f.title(), ln.title(), f"{f}.{ln}{i}@mail{i % 5}.com",
         f"+4477009{i:05d}", ["leeds", "york", "bath"][i % 3]]
        for i, (f, ln) in enumerate((f, ln) for f in firsts for ln in lasts)
    ]  # fmt: skip
    rows += [
        [
            "email",
            "zoe.quartz@example.com",
            "Zoe",
            "Quartz",
            "zoe.quartz@example.com",
            "+447700111222",
            "leeds",
        ],
        ["chat", "c-1", "Zoe", "Quartz", "zoe.quartz@example.com", "", "leeds"],
    ]
    report = ingest_file(store, write_csv(tmp_path / "m.csv", HEADER, rows), settings.ingest)
    assert report.status == "loaded", report.error
    _match(store, settings)
    zoe = store.rows(
        """SELECT s.suggestion_id FROM suggestions s JOIN identities i ON i.customer_id = s.customer_id_l
        WHERE i.external_id = 'zoe.quartz@example.com'"""
    )
    sid = zoe[0]["suggestion_id"]
    approve(store, sid, "alice", "same email")
    before = suggestion(store, sid)
    # re-runs, one with other thresholds (a changed model), leave the decision as it was
    _match(store, settings)
    settings.match.review_threshold = 0.5
    settings.match.auto_approve_threshold = 0.6
    store.execute("UPDATE identities SET match_pending = TRUE")
    _match(store, settings)
    assert suggestion(store, sid) == before


def test_cannot_link_of_a_merged_member_blocks_approval(people: Store) -> None:
    reject(people, add_suggestion(people, 5, 6), "bob")
    simulate_merge(people, 5, 1)  # customer 1 now holds the identities bob said are not customer 6
    sid = add_suggestion(people, 1, 6)
    with pytest.raises(ReviewError, match="customers 5 and 6 were marked as different people by bob"):
        approve(people, sid, "alice")
    assert approve(people, add_suggestion(people, 1, 4), "alice")["status"] == "approved"


def test_reject_after_repointing_links_both_pairs(people: Store) -> None:
    sid = add_suggestion(people, 3, 5)
    simulate_merge(people, 5, 1)
    reject(people, sid, "bob")
    pairs = people.rows("SELECT customer_id_a, customer_id_b FROM cannot_links ORDER BY 1, 2")
    assert [(p["customer_id_a"], p["customer_id_b"]) for p in pairs] == [(1, 3), (3, 5)]
