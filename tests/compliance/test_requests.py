"""Queueing requests: lookups by id, e-mail and phone, unknown people, listing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from compliance.requests import (
    confirm_request,
    due_date,
    get_request,
    list_requests,
    request_anonymization,
    request_export,
)
from domain.settings import Settings
from review.errors import ReviewError
from store import Store
from tests.compliance.builders import ALICE_EMAIL, people_store


@pytest.fixture
def people(tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    with people_store(tmp_path, settings, tmp_path_factory) as store:
        yield store


def test_request_by_customer_id_is_queued_with_who_when_why(people: Store) -> None:
    request = request_export(people, "dpo", customer_id=3, reason="access request by letter")
    assert request["status"] == "pending"
    assert (request["customer_id"], request["requested_by"], request["reason"]) == (
        3,
        "dpo",
        "access request by letter",
    )
    assert request["requested_at"] is not None
    assert get_request(people, request["request_id"]) == request


def test_request_by_email_is_normalized_and_follows_merges(people: Store) -> None:
    request = request_anonymization(people, "dpo", email="  Alice.MOSS@Example.com ")
    assert request["customer_id"] == 1
    assert request["lookup_value"] == ALICE_EMAIL


def test_request_by_phone_in_national_format_finds_the_e164_number(people: Store) -> None:
    request = request_export(people, "dpo", phone="07700 900003")
    assert request["customer_id"] == 4


def test_request_for_a_merged_customer_goes_to_the_survivor(people: Store) -> None:
    assert request_export(people, "dpo", customer_id=2)["customer_id"] == 1


@pytest.mark.parametrize(
    ("lookup", "message"),
    [({"email": "nobody@example.com"}, "nobody with that e-mail"), ({"customer_id": 999}, "customer 999"),
     ({"phone": "+447700999999"}, "nobody with that phone")],
)  # fmt: skip
def test_request_for_an_unknown_person_says_so_and_is_recorded(
    people: Store, lookup: dict[str, object], message: str
) -> None:
    with pytest.raises(ReviewError, match=message):
        request_anonymization(people, "dpo", **lookup)  # type: ignore[arg-type]
    [recorded] = list_requests(people, status="not_found")
    assert recorded["kind"] == "anonymize" and recorded["customer_id"] is None
    assert "nobody" in recorded["status_reason"]


def test_request_must_name_exactly_one_lookup_and_a_requester(people: Store) -> None:
    with pytest.raises(ReviewError, match="exactly one"):
        request_export(people, "dpo", customer_id=1, email=ALICE_EMAIL)
    with pytest.raises(ReviewError, match="who asked"):
        request_export(people, " ", customer_id=1)
    with pytest.raises(ReviewError, match="not a phone number"):
        request_export(people, "dpo", phone="call me maybe")
    assert list_requests(people) == []


def test_list_filters_by_kind_and_status(people: Store) -> None:
    request_export(people, "dpo", customer_id=1)
    request_anonymization(people, "dpo", customer_id=3)
    assert [r["kind"] for r in list_requests(people)] == ["anonymize", "export"]
    assert [r["customer_id"] for r in list_requests(people, kind="export")] == [1]
    assert list_requests(people, kind="anonymize", status="done") == []
    with pytest.raises(ReviewError, match="kind must be"):
        list_requests(people, kind="delete")


def test_a_value_held_by_several_customers_asks_which_not_not_found(people: Store) -> None:
    with people.transaction():  # Brian's identity also carries Alice's address (a duplicate, never merged)
        people.execute("UPDATE identities SET email_norm = ? WHERE customer_id = 3", [ALICE_EMAIL])
    request = request_anonymization(people, "dpo", email=ALICE_EMAIL)
    assert request["status"] == "needs_confirmation" and request["customer_id"] is None
    assert [(c["customer_id"], c["why"]) for c in request["candidates"]] == [
        (1, ["holds the e-mail address"]), (3, ["holds the e-mail address"])]  # fmt: skip
    assert list_requests(people, status="not_found") == []
    with pytest.raises(ReviewError, match="not candidates"):
        confirm_request(people, request["request_id"], [4], "dpo")
    confirmed = confirm_request(people, request["request_id"], [1], "dpo")
    assert (confirmed["status"], confirmed["customer_ids"], confirmed["confirmed_by"]) == (
        "pending",
        [1],
        "dpo",
    )
    with pytest.raises(ReviewError, match="not waiting for a confirmation"):
        confirm_request(people, request["request_id"], [1, 3], "dpo")


def test_requests_carry_a_due_date_one_month_on_and_can_be_searched(people: Store) -> None:
    request = request_export(people, "dpo", customer_id=3, reason="letter ref 4711")
    assert request["due_at"] == due_date(request["requested_at"])
    assert due_date(datetime(2026, 1, 31, 9, 0)) == datetime(2026, 2, 28, 9, 0)
    assert due_date(datetime(2026, 12, 15)) == datetime(2027, 1, 15)
    assert [r["request_id"] for r in list_requests(people, search="4711")] == [request["request_id"]]
    assert [r["request_id"] for r in list_requests(people, search="#3")] == [request["request_id"]]
    assert list_requests(people, search="nothing like it") == []
    assert list_requests(people, overdue=True) == []
