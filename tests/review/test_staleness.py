"""review.staleness.check_suggestion against small stores: valid, repointed, superseded, blocked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.settings import Settings
from review.staleness import StaleCheck, check_suggestion
from store import Store, open_store
from tests.review.builders import add_suggestion, people_store, simulate_merge, suggestion


@pytest.fixture
def people(settings: Settings) -> Iterator[Store]:
    with open_store(people_store(settings)) as store:
        yield store


def _check(store: Store, left: int, right: int) -> StaleCheck:
    return check_suggestion(store, suggestion(store, add_suggestion(store, left, right)))


def test_untouched_pair_is_valid(people: Store) -> None:
    assert _check(people, 1, 2) == StaleCheck("valid", 1, 2, None)


def test_merged_customer_is_repointed_to_its_survivor(people: Store) -> None:
    sid = add_suggestion(people, 3, 5)
    simulate_merge(people, 5, 1)
    check = check_suggestion(people, suggestion(people, sid))
    assert (check.action, check.customer_l, check.customer_r) == ("repointed", 1, 3)
    assert check.reason == "customer 5 was merged into 1"


def test_both_sides_merged_into_the_same_customer_is_superseded(people: Store) -> None:
    sid = add_suggestion(people, 2, 3)
    simulate_merge(people, 2, 1)
    simulate_merge(people, 3, 1)
    check = check_suggestion(people, suggestion(people, sid))
    assert check.action == "superseded"
    assert check.reason is not None and "already merged into 1" in check.reason


def test_anonymized_customer_supersedes(people: Store) -> None:
    people.execute("UPDATE customers SET anonymized_at = now() WHERE customer_id = 4")
    check = _check(people, 3, 4)
    assert check.action == "superseded"
    assert check.reason == "customer 4 was anonymized"


def test_missing_customer_supersedes(people: Store) -> None:
    check = _check(people, 1, 99)
    assert check.action == "superseded"
    assert check.reason is not None and "99" in check.reason


def test_locked_customer_blocks_and_says_why(people: Store) -> None:
    people.execute("UPDATE customers SET locked = TRUE, lock_reason = 'fraud check' WHERE customer_id = 2")
    check = _check(people, 1, 2)
    assert check.action == "blocked"
    assert check.reason is not None and "customer 2 is locked (reason: fraud check)" in check.reason


def test_check_is_a_pure_read(people: Store) -> None:
    sid = add_suggestion(people, 3, 5)
    simulate_merge(people, 5, 1)
    before = suggestion(people, sid)
    audits = people.scalar("SELECT count(*) FROM audit_log")
    check_suggestion(people, before)
    assert suggestion(people, sid) == before
    assert people.scalar("SELECT count(*) FROM audit_log") == audits
