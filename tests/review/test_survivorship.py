"""Survivorship rules on hand-made identity frames (pure polars, no store)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
import pytest

from domain.settings import ReviewSettings
from review.survivorship import build_profile, build_profiles

DEFAULT = ReviewSettings().survivorship


def identities(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Identity rows with the survivorship columns (missing ones are null)."""
    columns: dict[str, pl.DataType | type[pl.DataType]] = {"customer_id": pl.Int64, "identity_id": pl.Int64, "channel": pl.String,
               "updated_at": pl.Datetime("us"), "first_name": pl.String, "last_name": pl.String,
               "city": pl.String, "emails": pl.String, "phones": pl.String}  # fmt: skip
    filled = [{"customer_id": 1, **{c: None for c in columns if c != "customer_id"}, **row} for row in rows]
    return pl.DataFrame(filled, schema=columns)


def day(n: int) -> datetime:
    return datetime(2024, 1, n)


FRAME = identities(
    [
        {"identity_id": 1, "channel": "email", "updated_at": day(1), "first_name": "Ann", "city": "York",
         "emails": "ann@x.com", "phones": "+447911000001"},
        {"identity_id": 2, "channel": "sms", "updated_at": day(9), "first_name": "Anne", "city": "",
         "phones": "+447911000002"},
        {"identity_id": 3, "channel": "chat", "updated_at": None, "first_name": "Ann", "city": "Leeds",
         "emails": "ann@x.com", "last_name": "Lee"},
    ]
)  # fmt: skip


def test_most_recent_non_empty_value_wins_by_default() -> None:
    profile, sources = build_profile(FRAME, {}, DEFAULT)
    assert profile["first_name"] == "Anne"
    assert sources["first_name"] == {"identity_id": 2, "channel": "sms", "rule": "most_recent"}
    # identity 2 is newest but its city is empty: the newest non-empty value is York (day 1)
    assert profile["city"] == "York" and sources["city"]["identity_id"] == 1
    # only an undated identity has a last name: no rule decides, the oldest identity's value is kept
    assert profile["last_name"] == "Lee" and sources["last_name"]["rule"] in ("most_frequent", "oldest")


def test_most_frequent_first_when_configured() -> None:
    profile, sources = build_profile(FRAME, {}, ["most_frequent", "most_recent"])
    assert profile["first_name"] == "Ann" and sources["first_name"]["rule"] == "most_frequent"
    # the source of a frequent value is its most recent identity
    assert sources["first_name"]["identity_id"] == 1


def test_agent_edits_win_and_are_named() -> None:
    profile, sources = build_profile(FRAME, {"city": "Hull", "emails": ["ann@work.com"]}, DEFAULT)
    assert profile["city"] == "Hull" and sources["city"] == {"identity_id": None, "channel": None,
                                                             "rule": "agent_edited"}  # fmt: skip
    assert profile["emails"] == ["ann@work.com"]  # an agent's list is kept as the agent left it


def test_without_the_agent_rule_an_edit_only_fills_gaps() -> None:
    profile, _ = build_profile(FRAME, {"city": "Hull", "last_name": "Leigh"}, ["most_recent"])
    assert profile["city"] == "York"
    assert profile["last_name"] == "Lee"
    profile, _ = build_profile(FRAME.with_columns(pl.lit(None, pl.String).alias("last_name")),
                               {"last_name": "Leigh"}, ["most_recent"])  # fmt: skip
    assert profile["last_name"] == "Leigh"


def test_emails_and_phones_are_lists_of_distinct_values_oldest_first() -> None:
    profile, sources = build_profile(FRAME, {}, DEFAULT)
    assert profile["emails"] == ["ann@x.com"]
    assert profile["phones"] == ["+447911000001", "+447911000002"]
    assert sources["phones"]["identity_ids"] == [1, 2] and sources["phones"]["rule"] == "all_distinct"


def test_a_field_left_out_of_list_fields_keeps_one_value() -> None:
    profile, sources = build_profile(FRAME, {}, DEFAULT, list_fields=["emails"])
    assert profile["phones"] == ["+447911000001"] and sources["phones"]["rule"] == "oldest"


def test_a_tie_between_equally_recent_values_falls_to_the_next_rule() -> None:
    tied = identities(
        [
            {"identity_id": 1, "channel": "email", "updated_at": day(5), "first_name": "Jo"},
            {"identity_id": 2, "channel": "sms", "updated_at": day(5), "first_name": "Joe"},
            {"identity_id": 3, "channel": "chat", "updated_at": day(1), "first_name": "Joe"},
        ]
    )
    profile, sources = build_profile(tied, {}, DEFAULT)
    assert profile["first_name"] == "Joe" and sources["first_name"]["rule"] == "most_frequent"
    profile, sources = build_profile(tied.head(2), {}, DEFAULT)
    assert (profile["first_name"], sources["first_name"]["rule"]) == ("Jo", "oldest")


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 1, 0], [1, 2, 0]])
def test_row_order_does_not_change_the_outcome(order: list[int]) -> None:
    shuffled = FRAME[order]
    assert build_profile(shuffled, {}, DEFAULT) == build_profile(FRAME, {}, DEFAULT)


def test_many_customers_at_once_and_empty_input() -> None:
    two = pl.concat([FRAME, FRAME.with_columns(pl.lit(2, pl.Int64).alias("customer_id"),
                                               pl.col("identity_id") + 10)])  # fmt: skip
    profiles = build_profiles(two, {2: {"city": "Bath"}}, DEFAULT)
    assert profiles[1][0]["city"] == "York" and profiles[2][0]["city"] == "Bath"
    assert profiles[2][1]["first_name"]["identity_id"] == 12
    empty, sources = build_profile(FRAME.head(0), {}, DEFAULT)
    assert empty["first_name"] is None and empty["emails"] == [] and sources == {}


def test_each_field_of_each_customer_falls_to_the_first_rule_that_decides_it() -> None:
    frame = identities(
        [  # customer 1: first_name by most_recent, last_name (newest tie) by most_frequent, city by oldest
            {"identity_id": 1, "updated_at": day(1), "first_name": "Ann", "last_name": "Lee", "city": "York"},
            {"identity_id": 2, "updated_at": day(5), "first_name": "Ann", "last_name": "Lee", "city": "Bath"},
            {"identity_id": 3, "updated_at": day(9), "first_name": "Anne", "last_name": "Lea", "city": "Hull"},
            {"identity_id": 4, "updated_at": day(9), "first_name": "Anne", "last_name": "Lee", "city": "Ely"},
            # customer 2: the same fields, decided by other rules
            {"customer_id": 2, "identity_id": 5, "updated_at": day(2), "first_name": "Bo", "last_name": "Ng"},
            {"customer_id": 2, "identity_id": 6, "updated_at": day(3), "first_name": "Bob", "last_name": "Ng"},
            {"customer_id": 2, "identity_id": 7, "updated_at": day(3), "first_name": "Bo", "city": "Ayr"},
        ]
    )  # fmt: skip
    profiles = build_profiles(frame, {}, DEFAULT)
    rules = {c: {f: profiles[c][1][f]["rule"] for f in ("first_name", "last_name", "city")} for c in (1, 2)}
    assert rules == {
        1: {"first_name": "most_recent", "last_name": "most_frequent", "city": "oldest"},
        2: {"first_name": "most_frequent", "last_name": "most_recent", "city": "most_recent"},
    }
    assert [profiles[1][0][f] for f in ("first_name", "last_name", "city")] == ["Anne", "Lee", "York"]
    assert [profiles[2][0][f] for f in ("first_name", "last_name", "city")] == ["Bo", "Ng", "Ayr"]
    # built together or apart, a customer's profile is the same
    for customer in (1, 2):
        alone = build_profiles(frame.filter(pl.col("customer_id") == customer), {}, DEFAULT)
        assert alone[customer] == profiles[customer]
