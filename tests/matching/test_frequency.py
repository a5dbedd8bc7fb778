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


def _one_name(x: str | None, y: str | None, min_contain: int) -> bool:
    """The rule of matching/shared.py for one pair of names, written out per pair."""
    from rapidfuzz.distance import JaroWinkler

    from matching.nicknames import canonical_names

    if x is None or y is None:
        return True
    if not x or not y:
        return False
    canon = canonical_names()
    short = min(len(x), len(y))
    return (
        JaroWinkler.normalized_similarity(x, y) >= 0.8
        or canon.get(x, x) == canon.get(y, y)
        or (short == 1 and x[0] == y[0])
        or (short >= min_contain and (x in y or y in x))
    )


def test_compatible_names_judged_per_distinct_pair_agree_with_the_rule_per_pair() -> None:
    # compatible() scores each distinct pair of names once: every position must still get the
    # verdict its own names give (typos, nicknames, initials, containment, swaps, missing)
    import random

    from matching.shared import compatible

    pool = ["bob", "robert", "rob", "j", "jon", "john", "johnny", "smith", "smithjones", "jones",
            "mary", "maryann", "onna", "donna", "nela", "gajewska", "", "zoë", "ann", "anna"]  # fmt: skip
    rng = random.Random(3)

    def pick() -> str | None:
        return None if rng.random() < 0.15 else rng.choice(pool)

    fa, la, fb, lb = ([pick() for _ in range(3000)] for _ in range(4))
    got = compatible(fa, la, fb, lb)
    for i in range(len(fa)):
        named = (fa[i] is not None or la[i] is not None) and (fb[i] is not None or lb[i] is not None)
        straight = _one_name(fa[i], fb[i], 3) and _one_name(la[i], lb[i], 4)
        swapped = _one_name(fa[i], lb[i], 3) and _one_name(la[i], fb[i], 3)
        assert bool(got[i]) == (named and (straight or swapped)), (fa[i], la[i], fb[i], lb[i])
