"""Shared-value detection: a value held by several people is shared; one person's value is not."""

from __future__ import annotations

from matching.frequency import build_frame
from tests.matching.idframes import make_identities


def _shared(rows: list[dict[str, str]]) -> bool:
    df = make_identities([{**row, "email_norm": "inbox@example.com"} for row in rows])
    frame = build_frame(df, shared_min_names=2, shared_min_customers=8)
    enc = frame.col("email_norm", shared=True)
    assert enc.shared is not None
    return bool(enc.shared[enc.codes[0]])


def test_two_people_on_one_address_share_it() -> None:
    assert _shared(
        [
            {"first_name_norm": "anna", "last_name_norm": "berg"},
            {"first_name_norm": "omar", "last_name_norm": "berg"},
        ]
    )


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
