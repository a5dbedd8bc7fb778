"""review.customers against small stores: lock enforcement, profile edits, comments, identity search."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from domain.settings import Settings
from review.customers import add_comment, edit_profile, lock, search_identities, unlock
from review.decisions import approve
from review.errors import ReviewError
from store import Store, open_store
from store.customers import get_customer
from store.views.record import customer_record
from tests.review.builders import add_suggestion, people_store, simulate_merge


@pytest.fixture
def people(settings: Settings) -> Iterator[Store]:
    with open_store(people_store(settings)) as store:
        yield store


def _audit(store: Store, action: str) -> list[dict]:
    rows = store.rows("SELECT * FROM audit_log WHERE action = ? ORDER BY audit_id", [action])
    for row in rows:
        row["details"] = json.loads(row["details"])
    return rows


# -- lock ---------------------------------------------------------------------------------------
def test_lock_and_unlock_are_recorded_and_audited(people: Store) -> None:
    result = lock(people, 2, "alice", " fraud check ")
    row = get_customer(people, 2)
    assert row is not None and row["locked"] and row["lock_reason"] == "fraud check"
    assert row["locked_by"] == "alice" and row["locked_at"] is not None and result["locked"]
    with pytest.raises(ReviewError, match="already locked by alice"):
        lock(people, 2, "bob", "again")
    unlock(people, 2, "bob")
    row = get_customer(people, 2)
    assert row is not None and not row["locked"] and row["lock_reason"] is None
    with pytest.raises(ReviewError, match="not locked"):
        unlock(people, 2, "bob")
    assert [e["actor"] for e in _audit(people, "customer_lock")] == ["alice"]
    assert _audit(people, "customer_unlock")[0]["details"]["previous_reason"] == "fraud check"


def test_lock_needs_a_reason_and_a_known_customer(people: Store) -> None:
    with pytest.raises(ReviewError, match="needs a reason"):
        lock(people, 1, "alice", "  ")
    with pytest.raises(ReviewError, match="no customer 99"):
        lock(people, 99, "alice", "x")


def test_lock_of_a_merged_id_follows_the_redirect(people: Store) -> None:
    simulate_merge(people, 2, 1)
    result = lock(people, 2, "alice", "vip")
    assert result["customer_id"] == 1 and result["redirected"] == "customer 2 was merged into 1"
    row = get_customer(people, 1)
    assert row is not None and row["locked"]


def test_locked_customer_is_not_edited_suggested_or_approved(people: Store) -> None:
    sid = add_suggestion(people, 1, 2)
    lock(people, 2, "alice", "fraud check")
    with pytest.raises(ReviewError, match=r"customer 2 is locked \(reason: fraud check\) - unlock it first"):
        edit_profile(people, 2, "bob", {"city": "York"})
    with pytest.raises(ReviewError, match="locked"):
        approve(people, sid, "bob")
    from store.match_runs import load_match_input

    identities, _changed, excluded = load_match_input(people)
    assert 2 in excluded.to_list() and 2 not in identities["customer_id"].to_list()
    unlock(people, 2, "alice")
    assert edit_profile(people, 2, "bob", {"city": "York"})["changed"]["city"]["new"] == "York"
    assert approve(people, sid, "bob")["status"] == "approved"


# -- edit ---------------------------------------------------------------------------------------
def test_edit_validates_like_ingest_and_marks_agent_edited(people: Store) -> None:
    result = edit_profile(
        people,
        1,
        "alice",
        {
            "first_name": "  Alicia ",
            "emails": [" Alicia.Moss@Example.COM "],
            "phones": "07911 123456",
            "birth_date": "11/09/1990",
            "remove_emails": "alice@example.com",
        },
    )
    row = get_customer(people, 1)
    assert row is not None
    assert row["first_name"] == "Alicia"
    assert row["emails"] == ["alicia.moss@example.com"]
    assert row["phones"] == ["+447911123401", "+447911123456"]
    assert row["birth_date"] == "1990-09-11"
    assert set(row["agent_edited"]) == {"first_name", "emails", "phones", "birth_date"}
    assert row["profile_sources"]["first_name"]["rule"] == "agent_edited"
    assert row["profile_sources"]["first_name"]["agent"] == "alice"
    assert set(result["changed"]) == {"first_name", "emails", "phones", "birth_date"}
    (entry,) = _audit(people, "customer_edit")
    assert (
        entry["details"]["old"]["first_name"] == "Alice" and entry["details"]["new"]["first_name"] == "Alicia"
    )


def test_second_edit_keeps_the_earlier_agent_edited_fields(people: Store) -> None:
    edit_profile(people, 1, "alice", {"city": "Bath"})
    edit_profile(people, 1, "alice", {"company": "Acme"})
    row = get_customer(people, 1)
    assert row is not None and set(row["agent_edited"]) == {"city", "company"}
    # an edit that changes nothing writes nothing
    assert edit_profile(people, 1, "alice", {"city": "Bath"})["unchanged"]
    assert len(_audit(people, "customer_edit")) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"emails": "not-an-address"}, "not a valid email address: not-an-address"),
        ({"phones": "12"}, "not a valid phone number"),
        ({"birth_date": "31/02/1990"}, "is not a date"),
        ({"birth_date": "01/01/2999"}, "is not a date"),
        ({"nickname": "Al"}, "cannot edit nickname; editable: first_name"),
        ({"remove_emails": "nobody@example.com"}, "has no email nobody@example.com"),
        ({"city": "x" * 300}, "at most 200 characters"),
        ({}, "nothing to edit"),
    ],
)
def test_bad_edits_are_refused_with_the_reason(people: Store, changes: dict, message: str) -> None:
    before = get_customer(people, 1)
    with pytest.raises(ReviewError, match=message):
        edit_profile(people, 1, "alice", changes)
    assert get_customer(people, 1) == before


def test_edit_refuses_merged_and_anonymized_customers(people: Store) -> None:
    simulate_merge(people, 2, 1)
    with pytest.raises(ReviewError, match="customer 2 was merged into 1: edit customer 1 instead"):
        edit_profile(people, 2, "alice", {"city": "York"})
    people.execute("UPDATE customers SET status = 'anonymized', anonymized_at = now() WHERE customer_id = 3")
    with pytest.raises(ReviewError, match="anonymized"):
        edit_profile(people, 3, "alice", {"city": "York"})


# -- comments -----------------------------------------------------------------------------------
def _conversation(store: Store, identity_id: int) -> int:
    store.execute(
        "INSERT INTO conversations VALUES (77, 'chat', 't-77', ?, 'Refund', now(), now(), 1)", [identity_id]
    )
    return 77


def test_comments_on_customer_and_conversation_show_in_the_record(people: Store) -> None:
    simulate_merge(people, 2, 1)
    first = add_comment(people, "alice", "  called back, wants a refund  ", customer_id=2)
    conversation = _conversation(people, 2)  # identity 2 now belongs to customer 1
    second = add_comment(people, "bob", "escalated", conversation_id=conversation)
    rows = people.rows("SELECT * FROM comments ORDER BY comment_id")
    assert [r["comment_id"] for r in rows] == [first, second]
    assert rows[0]["customer_id"] == 1 and rows[0]["body"] == "called back, wants a refund"
    assert rows[1]["conversation_id"] == conversation and rows[1]["customer_id"] is None
    record = customer_record(people, 1)
    assert record is not None
    assert {c["body"] for c in record["comments"]} == {"called back, wants a refund", "escalated"}
    assert [e["details"]["comment_id"] for e in _audit(people, "comment")] == [first, second]
    # naming the customer too only checks the conversation is theirs
    third = add_comment(people, "bob", "refunded", customer_id=1, conversation_id=conversation)
    assert people.scalar("SELECT customer_id FROM comments WHERE comment_id = ?", [third]) is None


def test_bad_comments_are_refused(people: Store) -> None:
    with pytest.raises(ReviewError, match="cannot be empty"):
        add_comment(people, "alice", "   ", customer_id=1)
    with pytest.raises(ReviewError, match="at most 5000"):
        add_comment(people, "alice", "x" * 5001, customer_id=1)
    with pytest.raises(ReviewError, match="no conversation 5"):
        add_comment(people, "alice", "hi", conversation_id=5)
    with pytest.raises(ReviewError, match="needs a customer or a conversation"):
        add_comment(people, "alice", "hi")
    conversation = _conversation(people, 3)
    with pytest.raises(ReviewError, match="belongs to customer 3, not 1"):
        add_comment(people, "alice", "hi", customer_id=1, conversation_id=conversation)
    assert people.scalar("SELECT count(*) FROM comments") == 0


# -- search -------------------------------------------------------------------------------------
def _ids(results: list[dict]) -> list[int]:
    return [r["identity_id"] for r in results]


def test_search_by_name_email_phone_and_handle(people: Store) -> None:
    assert _ids(search_identities(people, "alice moss"))[:2] == [1, 2]
    assert _ids(search_identities(people, "Brian.Novak@example.org")) == [3]
    assert _ids(search_identities(people, "chloe@")) == [5]
    assert _ids(search_identities(people, "brian.novak+shop@example.org")) == [3]  # same email key
    assert set(_ids(search_identities(people, "+44 7911 123401"))) == {1, 2}
    assert _ids(search_identities(people, "123404")) == [6]
    assert _ids(search_identities(people, "@bnov")) == [4]
    top = search_identities(people, "alice moss")[0]
    assert top["customer_id"] == 1 and top["channel"] == "email" and top["score"] >= 90


def test_search_is_fuzzy_on_names(people: Store) -> None:
    results = search_identities(people, "Brain Novack")  # typos in both names
    assert set(_ids(results)[:2]) == {3, 4}
    assert search_identities(people, "Zebedee Quux") == []


def test_search_only_shows_active_customers(people: Store) -> None:
    simulate_merge(people, 2, 1)  # identities move to the survivor: still found, under customer 1
    assert {r["customer_id"] for r in search_identities(people, "alice moss")} == {1}
    people.execute("UPDATE customers SET status = 'anonymized' WHERE customer_id = 5")
    assert search_identities(people, "chloe ortiz") == []


def test_search_needs_a_query(people: Store) -> None:
    with pytest.raises(ReviewError, match="at least 2 characters"):
        search_identities(people, " a ")
