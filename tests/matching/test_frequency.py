"""Shared-value detection: a value held by several people is shared; one person's value is not."""

from __future__ import annotations

from matching.frequency import build_frame
from tests.matching.idframes import make_identities


def _shared(rows: list[dict[str, str]]) -> bool:
    df = make_identities([{**row, "email_norm": "inbox@example.com"} for row in rows])
    frame = build_frame(df, shared_min_holders=3, shared_min_customers=8)
    enc = frame.col("email_norm", shared=True)
    assert enc.shared is not None
    return bool(enc.shared[enc.codes[0]])


def test_three_holders_two_of_them_different_people_share_it() -> None:
    assert _shared(
        [
            {"first_name_norm": "anna", "last_name_norm": "berg"},
            {"first_name_norm": "omar", "last_name_norm": "berg"},
            {"first_name_norm": "anna", "last_name_norm": "berg"},
        ]
    )


def test_a_value_held_only_by_the_pair_is_not_shared() -> None:
    # two customers on one value are usually the pair itself: the names weigh against strangers
    assert not _shared(
        [
            {"first_name_norm": "anna", "last_name_norm": "berg"},
            {"first_name_norm": "omar", "last_name_norm": "berg"},
        ]
    )


def test_a_typo_in_one_first_name_does_not_make_two_people() -> None:
    # "onna" vs "donna": another first initial, one person
    assert not _shared(
        [
            {"first_name_norm": "donna", "last_name_norm": "pryce"},
            {"first_name_norm": "onna", "last_name_norm": "pryce"},
            {"first_name_norm": "donna", "last_name_norm": "pryce"},
        ]
    )


def test_unnamed_holders_are_no_evidence_of_two_people() -> None:
    assert not _shared([{"first_name_norm": "donna", "last_name_norm": "pryce"}, {}, {}, {}])


def test_many_customers_share_a_value_whatever_their_names() -> None:
    assert _shared([{"first_name_norm": "donna", "last_name_norm": "pryce"} for _ in range(8)])


def test_one_person_with_first_and_last_name_swapped_does_not() -> None:
    assert not _shared(
        [
            {"first_name_norm": "nela", "last_name_norm": "gajewska"},
            {"first_name_norm": "gajewska", "last_name_norm": "nela"},
        ]
    )


def test_nickname_and_full_name_are_one_person() -> None:
    assert not _shared(
        [
            {"first_name_norm": "bob", "last_name_norm": "hale"},
            {"first_name_norm": "robert", "last_name_norm": "hale"},
        ]
    )


def test_swapped_initials_of_a_third_person_still_share() -> None:
    rows = [
        {"first_name_norm": "nela", "last_name_norm": "gajewska"},
        {"first_name_norm": "gajewska", "last_name_norm": "nela"},
        {"first_name_norm": "tom", "last_name_norm": "gajewska"},
    ]
    assert _shared(rows)
