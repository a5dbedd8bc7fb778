from datetime import date

import numpy as np
import polars as pl
import pytest

from matching.comparisons import compare
from matching.config import MatchConfig
from matching.frequency import build_frame
from tests.matching.idframes import filler, make_identities


def levels_of(name: str, left: dict, right: dict, cfg: MatchConfig | None = None) -> str:
    cfg = cfg or MatchConfig()
    df = make_identities([left, right, *filler(20)])
    frame = build_frame(df, cfg.shared_min_holders, cfg.shared_min_customers)
    spec = next(c for c in cfg.comparisons if c.name == name)
    lv = compare(spec, frame, np.array([0], dtype=np.int32), np.array([1], dtype=np.int32))
    return lv.level_names[int(lv.levels[0])]


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("jordan", "jordan", "exact"),
        ("jordan", "jordna", "close"),
        ("bob", "robert", "nickname"),
        ("liz", "elizabeth", "nickname"),
        ("peggy", "margaret", "nickname"),
        ("j", "jordan", "initial"),
        ("mary", "maryann", "close"),
        ("jordan", "zebedee", "different"),
        (None, "jordan", "missing"),
    ],
)
def test_first_name_levels(a, b, level):
    assert (
        levels_of(
            "first_name",
            {"first_name_norm": a, "last_name_norm": "berry"},
            {"first_name_norm": b, "last_name_norm": "berry"},
        )
        == level
    )


def test_first_last_swap():
    left = {"first_name_norm": "berry", "last_name_norm": "jordan"}
    right = {"first_name_norm": "jordan", "last_name_norm": "berry"}
    assert levels_of("first_name", left, right) == "swapped"
    assert levels_of("last_name", left, right) == "swapped_surname"


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("berry", "berry", "exact"),
        ("berry", "bery", "close"),
        ("smithjones", "smith", "close"),
        # a surname written as its initial agrees with the full surname, weakly (issue 11)
        ("j", "jones", "initial"),
        ("j.", "jones", "initial"),
        ("jones", "j", "initial"),
        ("j", "berry", "different"),
        ("berry", "okafor", "different"),
        ("berry", None, "missing"),
    ],
)
def test_last_name_levels(a, b, level):
    assert levels_of("last_name", {"last_name_norm": a}, {"last_name_norm": b}) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("jb77@mail.com", "jb77@mail.com", "exact"),
        ("jb77@mail.com", "jb77@other.org", "same_local"),
        ("jordan.b77@mail.com", "jordan.n77@mail.com", "close"),
        ("john.smith@mail.com", "john.smith84@mail.com", "close"),
        # separators apart: another mailbox built the same way from one name, not a typo
        ("melanie.cooper@mail.com", "melanie_cooper@mail.com", "same_local"),
        ("melanie.cooper@mail.com", "melaniecooper@other.org", "same_local"),
        ("jb77@mail.com", "zq@x.org", "different"),
        ("jb77@mail.com", None, "missing"),
    ],
)
def test_email_levels(a, b, level):
    assert levels_of("email", {"email_norm": a}, {"email_norm": b}) == level


@pytest.mark.parametrize(
    ("field", "left", "right", "level"),
    [
        # two people's numbered addresses on one first-name stem: no evidence, the names decide
        (
            "email",
            {"email_norm": "kimberly02@yahoo.com"},
            {"email_norm": "kimberly74@yahoo.com"},
            "name_stem",
        ),
        ("email", {"email_norm": "jordan.b77@mail.com"}, {"email_norm": "jordan.b78@mail.com"}, "name_stem"),
        (
            "screen_name",
            {"screen_name_norm": "kimberly_91"},
            {"screen_name_norm": "kimberly_62"},
            "name_stem",
        ),
        ("email", {"email_norm": "hugues68@orange.fr"}, {"email_norm": "hugues691@orange.fr"}, "name_stem"),
        # a stem spelling the holder's surname is one person's often enough: still close
        (
            "email",
            {"email_norm": "dianegray11@sky.com", "last_name_norm": "gray"},
            {"email_norm": "dianegray57@sky.com"},
            "close",
        ),
        # a number extended or cut (one contains the other) may be one person's
        ("screen_name", {"screen_name_norm": "kimberly_9"}, {"screen_name_norm": "kimberly_91"}, "close"),
    ],
)
def test_other_number_on_one_stem_is_no_evidence(field, left, right, level):
    assert levels_of(field, left, right) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("+447700900123", "+447700900123", "exact"),
        ("+447700900123", "+337700900123", "national"),
        ("+447700900123", "+447700900132", "close"),
        ("+447700900123", "+441632960000", "different"),
        (None, "+447700900123", "missing"),
    ],
)
def test_phone_levels(a, b, level):
    assert levels_of("phone", {"phone_e164": a}, {"phone_e164": b}) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        ("SW1A1AA", "SW1A1AA", "exact"),
        ("SW1A1AA", "SW1A1AB", "close"),
        ("SW1A1AA", "SW1A2QQ", "area"),
        ("SW1A1AA", "M11AE", "different"),
    ],
)
def test_postcode_levels(a, b, level):
    assert levels_of("postcode", {"postcode_norm": a}, {"postcode_norm": b}) == level


@pytest.mark.parametrize(
    ("a", "b", "level"),
    [
        (date(1980, 3, 5), date(1980, 3, 5), "exact"),
        (date(1980, 3, 5), date(1980, 5, 3), "one_digit"),  # day and month swapped
        (date(1980, 3, 5), date(1981, 3, 5), "one_digit"),
        (date(1980, 3, 5), date(1980, 3, 25), "one_digit"),
        (date(1980, 3, 5), date(1975, 3, 5), "typo"),  # two digits of the year: two parts agree
        (date(1980, 3, 5), date(1980, 11, 5), "typo"),
        (date(1980, 3, 5), date(1990, 7, 9), "different"),
        (None, date(1990, 7, 9), "missing"),
    ],
)
def test_birth_date_levels(a, b, level):
    assert levels_of("birth_date", {"birth_date_norm": a}, {"birth_date_norm": b}) == level


@pytest.mark.parametrize(
    ("raw", "level"),
    [("1967-13-10", "one_digit"), ("19670310", "exact"), ("1967-03-10", "exact"), ("13/13/1967", "missing")],
)
def test_an_impossible_birth_date_compares_by_its_raw_parts(raw, level):
    """Month 13 is a typo the ingest cannot parse (birth_date_norm null); its raw text still says 1967-03-10."""
    cfg = MatchConfig()
    df = make_identities([{"birth_date_norm": None}, {"birth_date_norm": date(1967, 3, 10)}, *filler(20)])
    df = df.with_columns(pl.Series("birth_date", [raw, "1967-03-10"] + [None] * 20, dtype=pl.String))
    frame = build_frame(df, cfg.shared_min_holders, cfg.shared_min_customers)
    spec = next(c for c in cfg.comparisons if c.name == "birth_date")
    lv = compare(spec, frame, np.array([0], dtype=np.int32), np.array([1], dtype=np.int32))
    assert lv.level_names[int(lv.levels[0])] == level
    assert "birth_date" in cfg.read_columns()  # the match flow loads the raw text too


@pytest.mark.parametrize(
    ("name", "handle", "level"),
    [
        (
            {"first_name_norm": "jordan", "last_name_norm": "berry"},
            {"email_norm": "jordan.berry7@mail.com"},
            "full",
        ),
        (
            {"first_name_norm": "jordan", "last_name_norm": "berry"},
            {"screen_name_norm": "jberry"},
            "initial_surname",
        ),
        (
            {"first_name_norm": "jordan", "last_name_norm": "berry"},
            {"screen_name_norm": "berryfan"},
            "surname",
        ),
        ({"first_name_norm": "jordan", "last_name_norm": "berry"}, {"screen_name_norm": "zztop"}, "none"),
        ({"email_norm": "jberry88@mail.com"}, {"screen_name_norm": "jberry88"}, "handle_exact"),
        (
            {"first_name_norm": "jordan", "last_name_norm": "berry"},
            {"first_name_norm": "jordan", "screen_name_norm": "jberry"},
            "n/a",
        ),
    ],
)
def test_cross_field_name_vs_handle(name, handle, level):
    assert levels_of("name_handle", name, handle) == level
    assert levels_of("name_handle", handle, name) == level


def test_generic_string_comparison_from_config():
    cfg = MatchConfig.from_settings(
        {
            "comparisons": [
                {
                    "name": "addr",
                    "kind": "string",
                    "column": "company_norm",
                    "scorer": "token_set",
                    "thresholds": [0.9],
                }
            ]
        }
    )
    assert (
        levels_of("addr", {"company_norm": "acme widgets ltd"}, {"company_norm": "ltd acme widgets"}, cfg)
        == "close"
    )


def test_a_named_sides_own_address_is_not_counted_again_against_the_other_side() -> None:
    # "a.hill" at two domains: the email comparison counts the shared local part (same_local);
    # that the named side's own address spells its name says nothing more about the pair
    named = {"first_name_norm": "alice", "last_name_norm": "hill", "email_norm": "a.hill@yahoo.com"}
    unnamed = {"email_norm": "a.hill@gmail.com"}
    assert levels_of("email", named, unnamed) == "same_local"
    assert levels_of("name_handle", named, unnamed) == "n/a"
    assert levels_of("name_handle", unnamed, named) == "n/a"
    # separators apart it is the same local part to both comparisons
    dotted = {"email_norm": "alice_hill@gmail.com"}
    full = {**named, "email_norm": "alice.hill@yahoo.com"}
    assert levels_of("email", full, dotted) == "same_local"
    assert levels_of("name_handle", full, dotted) == "n/a"
    # another address of the other side that holds the name is still evidence
    assert levels_of("name_handle", named, {"email_norm": "alice.hill@gmail.com"}) == "full"


@pytest.mark.parametrize(
    ("holder", "lacker", "level"),
    [
        # the surname one side lacks is in that side's own email local part / screen name
        ({"first_name_norm": "jordan", "last_name_norm": "berry"},
         {"first_name_norm": "jordan", "email_norm": "jberry7@mail.com"}, "surname"),
        ({"first_name_norm": "jordan", "last_name_norm": "berry"},
         {"first_name_norm": "jordan", "screen_name_norm": "berry_fan"}, "surname"),
        # the first name one side lacks
        ({"first_name_norm": "jordan", "last_name_norm": "berry"},
         {"last_name_norm": "berry", "screen_name_norm": "jordan_b"}, "first_name"),
        # looked for, not there
        ({"first_name_norm": "jordan", "last_name_norm": "berry"},
         {"first_name_norm": "jordan", "screen_name_norm": "zztop"}, "none"),
        # nothing to look in, a part too short to look for, or both sides hold the whole name
        ({"first_name_norm": "jordan", "last_name_norm": "berry"}, {"first_name_norm": "jordan"}, "n/a"),
        ({"first_name_norm": "jordan", "last_name_norm": "li"},
         {"first_name_norm": "jordan", "screen_name_norm": "jordanli"}, "n/a"),
        ({"first_name_norm": "jordan", "last_name_norm": "berry"},
         {"first_name_norm": "jordan", "last_name_norm": "berry", "screen_name_norm": "jberry"}, "n/a"),
        # no name at all on one side is name_handle's case
        ({"first_name_norm": "jordan", "last_name_norm": "berry"}, {"screen_name_norm": "jberry"}, "n/a"),
    ],
)  # fmt: skip
def test_name_part_looks_for_the_missing_part_in_the_sides_own_handle(holder, lacker, level):
    assert levels_of("name_part", holder, lacker) == level
    assert levels_of("name_part", lacker, holder) == level


def test_name_part_ignores_a_handle_both_sides_hold() -> None:
    # the shared local part is the email comparison's to weigh (here: neutral, it spells the
    # holder's surname, as namesakes' addresses do); name_part does not count it again
    holder = {"first_name_norm": "jordan", "last_name_norm": "berry", "email_norm": "jberry@yahoo.com"}
    lacker = {"first_name_norm": "jordan", "email_norm": "jberry@gmail.com"}
    assert levels_of("email", holder, lacker) == "name_stem"
    assert levels_of("name_part", holder, lacker) == "n/a"
    assert levels_of("name_part", holder, {**lacker, "screen_name_norm": "berry_fan"}) == "surname"


def test_name_part_weighs_a_rare_part_more_than_a_common_one() -> None:
    cfg = MatchConfig()
    common = [{"first_name_norm": f"x{i}", "last_name_norm": "smith"} for i in range(12)]
    rows = [
        {"first_name_norm": "jordan", "last_name_norm": "smith"},
        {"first_name_norm": "jordan", "email_norm": "jsmith@mail.com"},
        {"first_name_norm": "jordan", "last_name_norm": "kzetvornel"},
        {"first_name_norm": "jordan", "email_norm": "jkzetvornel@mail.com"},
        *common,
    ]
    frame = build_frame(
        make_identities([*rows, *filler(20)]), cfg.shared_min_holders, cfg.shared_min_customers
    )
    spec = next(c for c in cfg.comparisons if c.name == "name_part")
    lv = compare(spec, frame, np.array([0, 2], dtype=np.int32), np.array([1, 3], dtype=np.int32))
    assert [lv.level_names[int(x)] for x in lv.levels] == ["surname", "surname"]
    assert lv.tf is not None and lv.tf[1] < lv.tf[0]


def test_one_local_part_at_two_domains_spelling_the_names_is_the_names_evidence() -> None:
    # Nigel Hynes (a typo in the name field) and Nigel Haynes: the address spells the name, which
    # the name comparisons count; namesakes build addresses the same way
    hynes = {"first_name_norm": "nigel", "last_name_norm": "hynes", "email_norm": "nigel.haynes@gmail.com"}
    haynes = {"first_name_norm": "nigel", "last_name_norm": "haynes", "email_norm": "nigel.haynes@sky.com"}
    assert levels_of("email", hynes, haynes) == "name_stem"
    assert levels_of("email", haynes, hynes) == "name_stem"
    # a side with no surname: the other's surname in both addresses
    nigel = {"first_name_norm": "nigel", "email_norm": "nigel.haynes@sky.com"}
    assert levels_of("email", {**haynes, "email_norm": "nigel.haynes@gmail.com"}, nigel) == "name_stem"
    # a side with no name at all: the local part is the only trace of a name, still evidence
    assert levels_of("email", hynes, {"email_norm": "nigel.haynes@sky.com"}) == "same_local"
    # an address that does not spell the names is still another address sharing the local part
    other = {**hynes, "email_norm": "bluefox.runner@gmail.com"}
    assert levels_of("email", other, {**haynes, "email_norm": "bluefox.runner@sky.com"}) == "same_local"


def test_one_address_typed_twice_stays_close() -> None:
    # a number added at one domain is mostly one person's address typed twice, whoever's surname it spells
    named = {"first_name_norm": "julie", "last_name_norm": "hughes", "email_norm": "julie.hughes@gmail.com"}
    bare = {"first_name_norm": "julie", "email_norm": "julie.hughes52@gmail.com"}
    assert levels_of("email", named, bare) == "close"


def test_near_handles_spelling_two_first_names_with_two_surnames_are_neutral() -> None:
    lloyd = {"first_name_norm": "kayleigh", "last_name_norm": "lloyd", "screen_name_norm": "kayleighllo"}
    lewis = {"first_name_norm": "kayleigh", "last_name_norm": "lewis", "screen_name_norm": "kayleighlew"}
    assert levels_of("screen_name", lloyd, lewis) == "name_stem"
    # the same near handles with one surname mistyped: a typo of one handle, still close
    lewis_typo = {**lewis, "last_name_norm": "lloyf"}
    assert levels_of("screen_name", lloyd, lewis_typo) == "close"
    # without names a near handle is a typo of it
    assert (
        levels_of("screen_name", {"screen_name_norm": "kayleighllo"}, {"screen_name_norm": "kayleighlo"})
        == "close"
    )


def test_near_handles_spelling_a_full_name_are_the_names_evidence() -> None:
    named = {"first_name_norm": "paula", "last_name_norm": "walker", "screen_name_norm": "paula_walker5"}
    unnamed = {"screen_name_norm": "paula_walker555"}
    cfg = MatchConfig()
    spec = next(c for c in cfg.comparisons if c.name == "screen_name")

    def level(*rows: dict[str, str]) -> str:
        df = make_identities([*rows, *filler(20)])
        frame = build_frame(df, cfg.shared_min_holders, cfg.shared_min_customers)
        lv = compare(spec, frame, np.array([0], dtype=np.int32), np.array([1], dtype=np.int32))
        return lv.level_names[int(lv.levels[0])]

    # the handles agree because they spell the name: the name comparisons (and name cells) weigh it,
    # however few hold the name
    assert level(named, unnamed) == "name_stem"
    # without a full name on either side a near handle is a typo of one
    assert level({"screen_name_norm": "paula_walker5"}, unnamed) == "close"
    # handles that do not spell the name stay evidence
    assert level({**named, "screen_name_norm": "bluefox77"}, {"screen_name_norm": "bluefox777"}) == "close"


def test_a_phone_two_people_of_one_surname_give_is_their_homes() -> None:
    anna = {"first_name_norm": "anna", "last_name_norm": "berry", "phone_e164": "+441632960001"}
    john = {"first_name_norm": "john", "last_name_norm": "berry", "phone_e164": "+441632960001"}
    assert levels_of("phone", anna, john) == "household"
    # one person: a nickname, a typo, or a side without a first name keeps the number's weight
    assert levels_of("phone", {**john, "first_name_norm": "johnny"}, john) == "exact"
    assert levels_of("phone", {**john, "first_name_norm": "jhon"}, john) == "exact"
    assert levels_of("phone", {**john, "first_name_norm": None}, john) == "exact"
    # two surnames: not a household, the names weigh against the pair as usual
    assert levels_of("phone", {**anna, "last_name_norm": "smith"}, john) == "exact"


def test_the_household_level_carries_no_weight() -> None:
    from matching.comparisons import neutral_flags

    assert neutral_flags(["missing", "household", "exact"]) == [True, True, False]


def test_near_addresses_of_one_surname_and_two_first_names_are_a_households() -> None:
    anna = {"first_name_norm": "anna", "last_name_norm": "berry", "email_norm": "aberry@mail.com"}
    john = {"first_name_norm": "john", "email_norm": "jberry@mail.com"}
    assert levels_of("email", anna, john) == "name_stem"
    # one first name (a typo of it): one person's address with a typo, still close
    assert levels_of("email", anna, {**john, "first_name_norm": "ana"}) == "close"
