"""Normalized identity columns: emails, phones, names, places, dates, timestamps, and the distinct-value path."""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

import phonenumbers
import polars as pl
import pytest

from ingest import phones as phone_module
from ingest.normalize import (
    country_code,
    name_key,
    normalize_identities,
    normalize_phone_values,
    parse_timestamps,
)
from ingest.text import fold, plain

RAW = ("channel", "external_id", "display_name", "first_name", "last_name", "screen_name", "email", "phone")
RAW += ("company", "gender", "city", "postcode", "country", "birth_date", "created_at", "updated_at")


def frame(column: str, values: list[str | None], **others: list[str | None]) -> pl.DataFrame:
    """A raw identities frame with `values` in `column` (other canonical columns null)."""
    n = len(values)
    data: dict[str, Any] = {c: [None] * n for c in RAW}
    data.update(
        {"channel": ["email"] * n, "external_id": [str(i) for i in range(n)], column: values, **others}
    )
    data["row_number"] = list(range(1, n + 1))
    data["extra"] = ['{"tier": "gold"}'] * n
    return pl.DataFrame(
        data, schema={**{c: pl.String for c in RAW}, "row_number": pl.Int64, "extra": pl.String}
    )


def column(raw_column: str, values: list[str | None], out: str, **others: list[str | None]) -> list[Any]:
    return normalize_identities(frame(raw_column, values, **others))[out].to_list()


# ---------------------------------------------------------------- emails


def test_email_norm_trims_nfkc_and_lowercases() -> None:
    out = normalize_identities(
        frame("email", ["  John.Smith@Example.COM ", "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", None, "", "  "])
    )
    assert out["email_norm"].to_list() == ["john.smith@example.com", "john@example.com", None, None, None]
    assert out["email_valid"].to_list() == [True, True, None, None, None]
    assert out["email_key"].to_list() == ["john.smith@example.com", "john@example.com", None, None, None]


def test_gmail_key_drops_dots_and_plus_tags_and_folds_googlemail() -> None:
    values = ["john.smith@gmail.com", "J.O.H.N.S.M.I.T.H+promo@GoogleMail.com", "johnsmith+a+b@gmail.com"]
    assert column("email", values, "email_key") == ["johnsmith@gmail.com"] * 3


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("jane.doe+news@outlook.com", "jane.doe@outlook.com"),
        ("jane.doe+x@hotmail.co.uk", "jane.doe@hotmail.co.uk"),
        ("jane+x@icloud.com", "jane@icloud.com"),
        ("jane+x@protonmail.com", "jane@protonmail.com"),
        ("jane+x@company.example", "jane@company.example"),
        ("bob-shopping@yahoo.com", "bob-shopping@yahoo.com"),  # yahoo's -keyword is not folded
        ("+only@example.com", "+only@example.com"),  # nothing before the tag: kept whole
        ("müller@beispiel.de", "müller@beispiel.de"),
    ],
)
def test_email_key_drops_plus_tags_everywhere(email: str, key: str) -> None:
    assert column("email", [email], "email_key") == [key]


@pytest.mark.parametrize(
    "email",
    [
        "not-an-email",
        "a@b",
        "a@@b.com",
        "a b@c.com",
        "@example.com",
        "john@.com",
        "john..doe@x.com",
        ".john@x.com",
        "john.@x.com",
        "john@x.c",
        "john@-x.com",
        "john@x-.com",
        "john@x.123",
        "john@exa mple.com",
        "<john@x.com>",
        "x" * 65 + "@example.com",
    ],
)
def test_invalid_emails_are_flagged_with_no_key(email: str) -> None:
    out = normalize_identities(frame("email", [email])).row(0, named=True)
    assert out["email_valid"] is False
    assert out["email_key"] is None
    assert out["email_norm"] is None  # the raw value is kept; a bad one is not normalized
    assert out["email"] == email


@pytest.mark.parametrize(
    "email",
    ["o'brien@example.ie", "a_b-c@sub.domain.co.uk", "x@xn--bcher-kva.example", "jörg@bücher.de", "1@2.io"],
)
def test_plausible_emails_are_valid(email: str) -> None:
    assert column("email", [email], "email_valid") == [True]


# ---------------------------------------------------------------- phones

SAME_MOBILE = [
    "+44 7911 123456",
    "07911123456",
    "(07911) 123-456",
    "0044 7911 123456",
    "447911123456",
    "+44 (0)7911 123456",
    "07911.123.456",
    "07911 123456 ext. 12",
    "07911 123456 x12",
    "+44-7911-123456",
    " 07911 123 456 ",
]


def test_phone_formats_give_the_same_e164() -> None:
    e164, valid = normalize_phone_values(SAME_MOBILE, "GB")
    assert e164 == ["+447911123456"] * len(SAME_MOBILE)
    assert valid == [True] * len(SAME_MOBILE)


def test_invalid_phones_are_flagged_not_dropped() -> None:
    values = ["07700 900123", "12345", "n/a", "abc", None, "", "+999 123"]
    out = normalize_identities(frame("phone", values))
    # 07700 900123 is a reserved (drama) range but has the shape of a GB mobile; 12345 has none:
    # no fabricated +4412345
    assert out["phone_e164"].to_list() == ["+447700900123", None, None, None, None, None, None]
    assert out["phone_valid"].to_list() == [False, False, False, False, None, None, False]
    assert out["phone"].to_list() == values  # the raw value stays


def test_phone_default_region_and_international_numbers() -> None:
    assert normalize_phone_values(["(212) 555-0123", "+44 20 7946 0000"], "US") == (
        ["+12125550123", "+442079460000"],
        [True, True],
    )
    e164, valid = normalize_phone_values(["+1 (212) 555-0123", "+33 6 12 34 56 78", "0033 612345678"], "GB")
    assert e164 == ["+12125550123", "+33612345678", "+33612345678"]
    assert valid == [True, True, True]


def test_bare_international_number_is_read_as_international_when_only_that_is_valid() -> None:
    # no + or 00: invalid as a UK number, valid as French / American
    assert normalize_phone_values(["33612345678", "12125550123"], "GB") == (
        ["+33612345678", "+12125550123"],
        [True, True],
    )
    # a leading 0 means a national number: no guess
    assert normalize_phone_values(["0612345678"], "GB")[1] == [False]


def test_unusual_shapes_go_through_phonenumbers() -> None:
    values = ["0800 FLOWERS", "tel:+44-20-7946-0000", "+44 20 7946 0000 / 0123", "07911１２３４５６"]
    e164, valid = normalize_phone_values(values, "GB")
    expected = [phone_module._parse_slow(v, "GB") for v in values]
    assert list(zip(e164, valid, strict=True)) == expected
    assert e164[1] == "+442079460000"


def _phone_samples(seed: int) -> list[str]:
    rnd = random.Random(seed)
    kinds = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE]
    kinds += [phonenumbers.PhoneNumberType.TOLL_FREE, phonenumbers.PhoneNumberType.VOIP]
    values = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        for kind in kinds:
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            digits = list(phonenumbers.national_significant_number(example))
            digits[rnd.randrange(len(digits))] = str(rnd.randint(0, 9))
            nsn, cc = "".join(digits), str(example.country_code)
            number = phonenumbers.parse("+" + cc + nsn, None)
            national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
            values += [
                "+" + cc + nsn,
                cc + nsn,
                "00" + cc + " " + nsn,
                national,
                national + " ext 7",
                "0" + nsn,
            ]
    values += ["".join(rnd.choice("0123456789") for _ in range(rnd.randint(3, 16))) for _ in range(500)]
    return list(dict.fromkeys(values))


@pytest.mark.parametrize("region", ["GB", "US", "DE", "AR"])
def test_vectorized_phone_path_agrees_with_phonenumbers(region: str) -> None:
    values = _phone_samples(7)
    e164, valid = normalize_phone_values(values, region)
    expected = [phone_module._parse_slow(v, region) for v in values]
    mismatches = [
        (v, got, want)
        for v, *got, want in zip(values, e164, valid, expected, strict=True)
        if tuple(got) != want
    ]
    assert mismatches == []


def test_many_slow_phones_are_shared_with_a_helper_process(monkeypatch: pytest.MonkeyPatch) -> None:
    values = [f"0800 FLOWER{i}" for i in range(10)] + [f"tel:+44-20-7946-00{i:02d}" for i in range(20)]
    expected = [phone_module._parse_slow(v, "GB") for v in values]
    here: list[str] = []
    parse_here = phone_module._parse_chunk

    def spy(chunk: list[str], region: str) -> list[tuple[str | None, bool]]:
        here.extend(chunk)
        return parse_here(chunk, region)

    monkeypatch.setattr(phone_module, "POOL_THRESHOLD", 10)
    monkeypatch.setattr(phone_module, "_parse_chunk", spy)
    assert phone_module._parse_many(values, "GB") == expected
    assert len(here) == 15  # the other half was parsed by the helper process


# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "norm", "key"),
    [
        ("Ｊｏｈｎ", "john", "john"),  # full-width letters
        ("ﬁona", "fiona", "fiona"),  # ligature
        ("STRAẞE", "strasse", "strasse"),  # case folding of ß / ẞ
        ("Straße", "strasse", "strasse"),
        ("  Anne   Marie \t", "anne marie", "annemarie"),
        ("José", "josé", "jose"),
        ("Jose", "jose", "jose"),
        ("Müller", "müller", "muller"),
        ("Łukasz", "łukasz", "lukasz"),
        ("Øyvind", "øyvind", "oyvind"),
        ("Ægir", "ægir", "aegir"),
        ("Œuvre", "œuvre", "oeuvre"),
        ("Þór", "þór", "thor"),
        ("Đoković", "đoković", "dokovic"),
        ("O'Brien-Smith", "o'brien-smith", "obriensmith"),
        ("Иван", "иван", "ivan"),
        ("李", "李", None),
        ("<script>alert(1)</script>", "<script>alert(1)</script>", "scriptalertscript"),
        ("Robert'); DROP TABLE students;--", "robert'); drop table students;--", "robertdroptablestudents"),
    ],
)
def test_first_name_norm_and_key(raw: str, norm: str, key: str | None) -> None:
    out = normalize_identities(frame("first_name", [raw])).row(0, named=True)
    assert (out["first_name_norm"], out["first_name_key"]) == (norm, key)
    assert out["name_from_display"] is False


def test_name_key_helper() -> None:
    assert name_key("José") == name_key("JOSE") == "jose"
    assert name_key("Müller-Lüdenscheidt") == "mullerludenscheidt"
    assert name_key("Łukasz") == "lukasz"
    assert name_key("Øyvind") == "oyvind"
    assert name_key("12 34") == ""
    for text in ["Straße", "ﬁona", "İstanbul", "Ǿrsted", "ℌello"]:
        assert name_key(text) == name_key(fold(text) or "")


@pytest.mark.parametrize(
    ("display", "first", "last"),
    [
        ("John Smith", "john", "smith"),
        ("John Paul Smith", "john", "smith"),
        ("Smith, John", "john", "smith"),
        ("Smith, John Paul", "john", "smith"),
        ("  SMITH ,  John  ", "john", "smith"),
        ("Madonna", "madonna", None),
        ("Mr John Smith", "john", "smith"),
        ("Dr. Who", None, "who"),
        ("John Smith (ACME)", "john", "smith"),
        ("José Müller", "josé", "müller"),
    ],
)
def test_display_name_split_when_names_are_missing(display: str, first: str | None, last: str | None) -> None:
    out = normalize_identities(frame("display_name", [display])).row(0, named=True)
    assert (out["first_name_norm"], out["last_name_norm"], out["name_from_display"]) == (first, last, True)
    assert out["first_name_key"] == (name_key(first) or None if first else None)
    assert out["display_name"] == display


def test_a_display_name_that_is_no_persons_name_is_kept_but_not_split() -> None:
    # two strangers with the same status line must not agree on first and last name (issue 11)
    shown = ["Living my best life", "hey whatsapp", "just me", "Mum", "🙂", "Jane Smith 🌸"]
    out = normalize_identities(frame("display_name", shown))
    assert out["first_name_norm"].to_list() == [None] * 5 + ["jane"]
    assert out["last_name_norm"].to_list() == [None] * 5 + ["smith"]
    assert out["first_name_key"].to_list() == [None] * 5 + ["jane"]
    assert out["last_name_key"].to_list() == [None] * 5 + ["smith"]
    assert out["name_from_display"].to_list() == [False] * 5 + [True]
    # the agent still sees what the customer calls themselves
    assert out["display_name"].to_list() == shown
    assert out["display_name_norm"].to_list()[:2] == ["living my best life", "hey whatsapp"]


def test_display_name_not_split_when_a_name_is_given() -> None:
    out = normalize_identities(
        frame(
            "display_name",
            ["John Smith", "John Smith", None, "  "],
            last_name=["Jones", None, None, None],
            first_name=[None, "Jon", None, None],
        )
    )
    assert out["first_name_norm"].to_list() == [None, "jon", None, None]
    assert out["last_name_norm"].to_list() == ["jones", None, None, None]
    assert out["name_from_display"].to_list() == [False, False, False, False]
    assert out["display_name_norm"].to_list() == ["john smith", "john smith", None, None]


def test_screen_name_without_at_and_lowercased() -> None:
    values = ["@JohnSmith", "  @@Foo_Bar ", "＠Ｆｏｏ", "plain", "@", None]
    assert column("screen_name", values, "screen_name_norm") == [
        "johnsmith",
        "foo_bar",
        "foo",
        "plain",
        None,
        None,
    ]


# ---------------------------------------------------------------- places


def test_city_company_postcode() -> None:
    out = normalize_identities(
        frame(
            "city",
            ["  MÜNCHEN ", "São  Paulo", "Zürich", "London"],
            company=["Société  Générale", "ACME Ltd.", "Ørsted A/S", None],
            postcode=["sw1a 1aa", "７５００１", " 10115 ", "ec1a\t1bb"],
        )
    )
    assert out["city_norm"].to_list() == ["munchen", "sao paulo", "zurich", "london"]
    assert out["company_norm"].to_list() == ["societe generale", "acme ltd.", "orsted a/s", None]
    assert out["postcode_norm"].to_list() == ["SW1A1AA", "75001", "10115", "EC1A1BB"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("United Kingdom", "GB"),
        ("UK", "GB"),
        ("u.k.", "GB"),
        ("gb", "GB"),
        ("GBR", "GB"),
        ("England", "GB"),
        ("Deutschland", "DE"),
        ("germany", "DE"),
        ("DEU", "DE"),
        ("France", "FR"),
        ("fr", "FR"),
        ("Österreich", "AT"),
        ("España", "ES"),
        ("United States of America", "US"),
        ("U.S.A.", "US"),
        ("Ireland", "IE"),
        ("  the netherlands ", "NL"),
        ("Narnia", "narnia"),
        ("Côte  Nord", "cote nord"),
        ("   ", None),
    ],
)
def test_country_to_alpha2(raw: str, code: str | None) -> None:
    assert column("country", [raw], "country_norm") == [code]
    assert country_code(raw) == code


# ---------------------------------------------------------------- dates and timestamps


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("1990-05-17", date(1990, 5, 17)),
        (" 1990-05-17 ", date(1990, 5, 17)),
        ("1990-05-17T00:00:00", date(1990, 5, 17)),
        ("17/05/1990", date(1990, 5, 17)),
        ("7/5/1990", date(1990, 5, 7)),
        ("17.05.1990", date(1990, 5, 17)),
        ("17-05-1990", date(1990, 5, 17)),
        ("1990/05/17", date(1990, 5, 17)),
        ("19900517", date(1990, 5, 17)),
        ("2000-02-29", date(2000, 2, 29)),
        ("2023-02-30", None),
        ("1900-02-29", None),
        ("31/02/2000", None),
        ("1990-13-01", None),
        ("05/17/1990", None),  # day first: there is no 17th month
        ("2999-01-01", None),  # in the future
        ("1850-01-01", None),
        ("11 Sep 2000", date(2000, 9, 11)),
        ("11-sep-2000", date(2000, 9, 11)),
        ("September 11, 2000", date(2000, 9, 11)),
        ("Sep 11 2000", date(2000, 9, 11)),
        ("31 Feb 2000", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_birth_date(raw: str, parsed: date | None) -> None:
    assert column("birth_date", [raw], "birth_date_norm") == [parsed]


@pytest.mark.parametrize(
    ("raw", "parsed"),
    [
        ("2024-01-15", datetime(2024, 1, 15)),
        ("2024-01-15T10:30", datetime(2024, 1, 15, 10, 30)),
        ("2024-01-15 10:30:15", datetime(2024, 1, 15, 10, 30, 15)),
        ("2024-01-15T10:30:15.123456Z", datetime(2024, 1, 15, 10, 30, 15, 123456)),
        ("2024-01-15T10:30:15z", datetime(2024, 1, 15, 10, 30, 15)),
        ("2024-01-15T10:30:15+01:00", datetime(2024, 1, 15, 9, 30, 15)),
        ("2024-01-15T10:30:15+01", datetime(2024, 1, 15, 9, 30, 15)),
        ("2024-01-15T23:30:15-0500", datetime(2024, 1, 16, 4, 30, 15)),
        ("2024-01-15T10:30:15,5+05:30", datetime(2024, 1, 15, 5, 0, 15, 500000)),
        ("2024-01-15 10:30:15 UTC", datetime(2024, 1, 15, 10, 30, 15)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20)),
        ("1700000000.25", datetime(2023, 11, 14, 22, 13, 20, 250000)),
        ("1700000000123", datetime(2023, 11, 14, 22, 13, 20, 123000)),
    ],
)
def test_timestamps_to_naive_utc(raw: str, parsed: datetime) -> None:
    out = normalize_identities(frame("created_at", [raw], updated_at=[raw])).row(0, named=True)
    assert (out["created_at_ts"], out["created_at_bad"]) == (parsed, False)
    assert (out["updated_at_ts"], out["updated_at_bad"]) == (parsed, False)


@pytest.mark.parametrize("raw", ["soon", "2024-02-30", "2024-01-15T25:00:00", "15/01/2024 10:00", "12345"])
def test_unparseable_timestamps_are_bad(raw: str) -> None:
    out = normalize_identities(frame("created_at", [raw, None, "  "])).select(
        "created_at_ts", "created_at_bad"
    )
    assert out.rows() == [(None, True), (None, False), (None, False)]


def test_parse_timestamps_helper() -> None:
    out = parse_timestamps(pl.DataFrame({"created_at": ["2024-01-01T10:00:00Z", "x", None]}), ["created_at"])
    assert out.schema["created_at_ts"] == pl.Datetime("us")
    assert out.rows() == [
        ("2024-01-01T10:00:00Z", datetime(2024, 1, 1, 10), False),
        ("x", None, True),
        (None, None, False),
    ]


# ---------------------------------------------------------------- the frame contract

OUTPUT_TYPES = {
    "email_norm": pl.String,
    "email_valid": pl.Boolean,
    "email_key": pl.String,
    "phone_e164": pl.String,
    "phone_valid": pl.Boolean,
    "phone_national": pl.String,
    "first_name_norm": pl.String,
    "last_name_norm": pl.String,
    "first_name_key": pl.String,
    "last_name_key": pl.String,
    "name_from_display": pl.Boolean,
    "display_name_norm": pl.String,
    "screen_name_norm": pl.String,
    "company_norm": pl.String,
    "city_norm": pl.String,
    "postcode_norm": pl.String,
    "country_norm": pl.String,
    "birth_date_norm": pl.Date,
    "created_at_ts": pl.Datetime("us"),
    "created_at_bad": pl.Boolean,
    "updated_at_ts": pl.Datetime("us"),
    "updated_at_bad": pl.Boolean,
}


def test_raw_columns_are_unchanged_and_outputs_typed() -> None:
    raw = frame(
        "display_name",
        ["  Mr JOHN   Smith ", "Ｊｏｓé Müller"],
        email=[" A@Gmail.com ", "bad"],
        phone=["07911 123456", "x"],
        city=["MÜNCHEN", None],
        created_at=["2024-01-01T10:00:00+02:00", "nope"],
    )
    out = normalize_identities(raw)
    assert out.select(raw.columns).equals(raw)
    assert out.columns == [*raw.columns, *OUTPUT_TYPES]
    assert {c: out.schema[c] for c in OUTPUT_TYPES} == OUTPUT_TYPES


def test_absent_columns_are_treated_as_null() -> None:
    raw = pl.DataFrame(
        {"channel": ["sms"], "external_id": ["1"], "phone": ["07911 123456"], "row_number": [1]}
    )
    out = normalize_identities(raw)
    assert out.columns == [*raw.columns, *OUTPUT_TYPES]
    row = out.row(0, named=True)
    assert row["phone_e164"] == "+447911123456"
    assert row["email_norm"] is None and row["email_valid"] is None and row["first_name_norm"] is None
    assert row["name_from_display"] is False and row["created_at_bad"] is False


def test_empty_frame() -> None:
    out = normalize_identities(frame("email", []))
    assert out.height == 0
    assert {c: out.schema[c] for c in OUTPUT_TYPES} == OUTPUT_TYPES


def test_distinct_value_path_matches_row_by_row() -> None:
    """60k rows from small pools take the distinct-value path; results must equal small-batch normalization."""
    rnd = random.Random(3)
    firsts = [
        "José",
        "jose",
        "Müller",
        "Łukasz",
        "Øyvind",
        "Anne  Marie",
        "ＪＯＨＮ",
        "Straße",
        "李",
        None,
        "",
    ]
    cities = ["München", "MUNCHEN", "São Paulo", "London", " london ", None]
    countries = ["UK", "United Kingdom", "Deutschland", "fr", "Narnia", None]
    dates = ["1990-05-17", "17/05/1990", "2023-02-30", None]
    mobiles = [f"07911 {rnd.randint(100000, 999999)}" for _ in range(300)] + [
        "n/a",
        "+33 6 12 34 56 78",
        None,
    ]
    n = 60_000
    raw = frame(
        "first_name",
        [rnd.choice(firsts) for _ in range(n)],
        last_name=[rnd.choice(firsts) for _ in range(n)],
        city=[rnd.choice(cities) for _ in range(n)],
        company=[rnd.choice(cities) for _ in range(n)],
        country=[rnd.choice(countries) for _ in range(n)],
        birth_date=[rnd.choice(dates) for _ in range(n)],
        phone=[rnd.choice(mobiles) for _ in range(n)],
        email=[f"user{rnd.randint(0, 50)}@Example.com" for _ in range(n)],
        display_name=[f"{rnd.choice(firsts)} {i}" for i in range(n)],
    )
    whole = normalize_identities(raw)
    pieces = pl.concat([normalize_identities(raw.slice(i, 5_000)) for i in range(0, n, 5_000)])
    assert whole.equals(pieces)
    assert whole.height == n
    check = whole.unique(["first_name", "city", "country"]).rows(named=True)
    for row in check:
        first = row["first_name"]
        if row["name_from_display"]:
            assert row["first_name_norm"] == fold(row["display_name"].split()[0])
            continue
        assert row["first_name_norm"] == (fold(first) if first else None)
        assert row["first_name_key"] == ((name_key(first) or None) if first else None)
        assert row["city_norm"] == (plain(row["city"]) if row["city"] else None)
        assert row["country_norm"] == (country_code(row["country"]) if row["country"] else None)


def test_foreign_national_phones_get_no_fabricated_e164() -> None:
    # default region GB: 0612345678 is no GB number, and must not become +44612345678
    e164, valid = normalize_phone_values(["0612345678", "06 12 34 56 78"], "GB")
    assert e164 == [None, None] and valid == [False, False]


def test_an_invalid_national_phone_without_trunk_prefix_gets_no_e164_but_keeps_its_digits() -> None:
    # a US number written nationally, read in GB: it has the shape of a GB number but a GB
    # number written nationally starts with 0, so +443108640064 would be a fabricated number
    raw = ["310 864 0064", "(310) 864-0064", "3108640064", "310 864 0064 ext. 12"]
    e164, valid = normalize_phone_values(raw, "GB")
    assert e164 == [None] * 4 and valid == [False] * 4
    out = normalize_identities(
        pl.DataFrame({"channel": ["chat"] * 4, "external_id": list("abcd"), "phone": raw})
    )
    assert out["phone_national"].to_list() == ["3108640064"] * 4
    # and the same number written internationally keeps both (it is valid)
    assert normalize_phone_values(["+1 310 864 0064"], "GB") == (["+13108640064"], [True])


def test_the_no_trunk_prefix_rule_keeps_what_has_a_prefix_a_country_code_or_is_valid() -> None:
    # with its trunk prefix an invalid number of the region's shape keeps its E.164 (an unallocated
    # range of the region, written as the region writes numbers); valid numbers are untouched
    assert normalize_phone_values(["0310 864 0064", "7911 123456"], "GB") == (
        ["+443108640064", "+447911123456"],
        [False, True],
    )
    # a region whose national format has no trunk prefix (US: 1 is not written) is not affected
    assert normalize_phone_values(["212 555 0123"], "US") == (["+12125550123"], [True])
    # the slow path (letters) applies the same rule
    assert normalize_phone_values(["tel: 310 864 0064"], "GB") == ([None], [False])
    assert normalize_phone_values(["tel: 0310 864 0064"], "GB") == (["+443108640064"], [False])


def test_a_national_phone_is_read_in_the_identitys_own_region() -> None:
    raw = pl.DataFrame(
        {
            "channel": ["sms", "chat", "chat", "email"],
            "external_id": ["a", "b", "c", "d"],
            "phone": ["06 12 34 56 78", "+33 6 12 34 56 78", "0612345678", "07911 123456"],
            "country": ["France", None, None, "France"],
            "email": [None, None, "marie@orange.fr", None],
        }
    )
    out = normalize_identities(raw)
    # by the country, by the email's country domain, already international; a GB mobile of an
    # identity filed in France is still read in the default region
    assert out["phone_e164"].to_list() == ["+33612345678", "+33612345678", "+33612345678", "+447911123456"]
    assert out["phone_valid"].to_list() == [True, True, True, True]
