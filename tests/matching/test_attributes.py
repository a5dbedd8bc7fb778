"""Extra attributes: folded like built-in text, dates and numbers parsed, composite columns, fill checks."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from matching import ConfigError, MatchConfig, run_match
from matching.attributes import (
    STORE_COLUMNS,
    column_fill,
    fill_problems,
    fold_text,
    parse_dates,
    prepare_attributes,
)
from tests.matching.idframes import filler, make_identities


def _with_extra(rows: list[dict], **extra: list) -> pl.DataFrame:
    df = make_identities(rows)
    return df.with_columns(*[pl.Series(name, values, dtype=pl.String) for name, values in extra.items()])


def _levels(result, name: str) -> dict[tuple[int, int], str]:
    pairs = result.pairs
    return {
        (a, b): level
        for a, b, level in zip(
            pairs.get_column("identity_id_l"),
            pairs.get_column("identity_id_r"),
            pairs.get_column(f"{name}_level"),
            strict=True,
        )
    }


def test_the_columns_matching_takes_from_the_store_are_identity_columns(store) -> None:
    from domain.columns import CANONICAL_IDENTITY_COLUMNS

    stored = set(store.frame("SELECT * FROM identities LIMIT 0").columns)
    assert stored >= STORE_COLUMNS, sorted(STORE_COLUMNS - stored)
    assert set(CANONICAL_IDENTITY_COLUMNS) - {"created_at", "updated_at"} <= STORE_COLUMNS


def test_fold_text_is_case_whitespace_and_unicode_folding() -> None:
    assert fold_text("  GOLD   Member ") == "gold member"
    assert fold_text("Gôld") == "gold" and fold_text("Straße") == "strasse"
    assert fold_text("ＧＯＬＤ") == "gold"  # full-width, NFKC
    assert fold_text("   ") is None


def test_extra_attributes_are_compared_folded_not_raw() -> None:
    people = [
        {"identity_id": 1, "first_name_norm": "ann", "last_name_norm": "lee"},
        {"identity_id": 2, "first_name_norm": "ann", "last_name_norm": "lee"},
        *filler(60),
    ]
    tiers = ["  GOLD  Plus", "gôld plus"] + [f"tier {i}" for i in range(60)]
    cfg = MatchConfig.from_settings(
        {"comparisons": [{"name": "tier", "kind": "exact", "column": "loyalty_tier"}]}
    )
    result = run_match(_with_extra(people, loyalty_tier=tiers), cfg)
    assert _levels(result, "tier")[(1, 2)] == "exact"


@pytest.mark.parametrize(
    ("a", "b"),
    [("2020-01-05", "05/01/2020"), ("20200105", "2020-01-05"), ("5 Jan 2020", "05.01.2020")],
)
def test_date_kind_on_an_extra_attribute_parses_strings(a: str, b: str) -> None:
    people = [
        {"identity_id": 1, "first_name_norm": "ann", "last_name_norm": "lee"},
        {"identity_id": 2, "first_name_norm": "ann", "last_name_norm": "lee"},
        *filler(60),
    ]
    signups = [a, b] + [f"2019-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(60)]
    cfg = MatchConfig.from_settings(
        {"comparisons": [{"name": "signup", "kind": "date", "column": "signup_date"}]}
    )
    # today's code fails here with polars' "casting from Utf8View to Date not supported"
    result = run_match(_with_extra(people, signup_date=signups), cfg)
    assert _levels(result, "signup")[(1, 2)] == "exact"


def test_date_typo_level_on_extra_dates_and_explicit_format() -> None:
    series = pl.Series("d", ["01/02/2020", "2020-02-01", None, "garbage"])
    assert parse_dates(series).to_list() == [date(2020, 2, 1), date(2020, 2, 1), None, None]
    us = parse_dates(pl.Series("d", ["02/01/2020"]), "%m/%d/%Y")
    assert us.to_list() == [date(2020, 2, 1)]


def test_numeric_kind_on_an_extra_attribute_parses_text() -> None:
    cfg = MatchConfig.from_settings({"comparisons": [{"name": "age", "kind": "numeric", "column": "age"}]})
    df = prepare_attributes(_with_extra([{}, {}, {}], age=["41", " 1,200 ", "n/a"]), cfg)
    assert df.get_column("age").to_list() == [41.0, 1200.0, None]


def test_composite_column_is_built_from_several_and_compared() -> None:
    cfg = MatchConfig.from_settings(
        {
            "composite_columns": {"address": ["street_number", "address_1", "suburb"]},
            "comparisons": [{"name": "address", "kind": "address", "column": "address"}],
        }
    )
    df = _with_extra(
        [{}, {}, {}],
        street_number=["12", None, "7"],
        address_1=["Stanley St.", "Stanley Street", None],
        suburb=["KINGSTON", "Kingston", None],
    )
    out = prepare_attributes(df, cfg).get_column("address").to_list()
    assert out == ["12 stanley street kingston", "stanley street kingston", "7"]


def test_composite_of_unknown_part_is_an_error() -> None:
    cfg = MatchConfig.from_settings(
        {
            "composite_columns": {"address": ["street_nr", "address_1"]},
            "comparisons": [{"name": "address", "kind": "address", "column": "address"}],
        }
    )
    with pytest.raises(ConfigError, match="composite column 'address' is built from unknown column"):
        run_match(_with_extra([{}, {}], address_1=["a", "b"]), cfg)


def test_composite_name_cannot_hide_a_store_column() -> None:
    with pytest.raises(ConfigError, match="would hide a store column"):
        MatchConfig.from_settings({"composite_columns": {"city_norm": ["city", "postcode"]}})


def test_misspelt_extra_column_is_an_error_with_the_nearest_available_column() -> None:
    # the mistake: `column = "soc_secid"` read as an empty extra attribute
    cfg = MatchConfig.from_settings(
        {"comparisons": [{"name": "ssn", "kind": "exact", "column": "soc_secid"}]}
    )
    df = _with_extra([{}, {}], soc_secid=[None, None])
    errors, _ = fill_problems(cfg, column_fill(df, cfg), {"soc_sec_id": 2, "first_name_key": 2})
    assert "comparison 'ssn' reads column 'soc_secid', which no identity holds (0 of 2)" in errors[0]
    assert "did you mean 'soc_sec_id'?" in errors[0]
    assert "available columns" in errors[-1] and "soc_sec_id (100%)" in errors[-1]


def test_misspelt_blocking_column_is_an_error() -> None:
    # the mistake: `on = ["birth_date_nrom"]`
    cfg = MatchConfig.from_settings({"blocking_rules": [{"name": "dob", "on": ["birth_date_nrom"]}]})
    df = _with_extra([{}, {}], birth_date_nrom=[None, None])
    errors, _ = fill_problems(cfg, column_fill(df, cfg), {"birth_date_norm": 2})
    assert "blocking rule 'dob' reads column 'birth_date_nrom'" in errors[0]
    assert "did you mean 'birth_date_norm'?" in errors[0]


def test_sparse_extra_attribute_is_a_warning_with_its_fill_rate() -> None:
    cfg = MatchConfig.from_settings({"comparisons": [{"name": "vip", "kind": "exact", "column": "vip_no"}]})
    df = _with_extra([{}] * 20, vip_no=["v1"] + [None] * 19)
    errors, warnings = fill_problems(cfg, column_fill(df, cfg))
    assert not errors
    assert warnings == [
        "sparse extra attribute 'vip_no' (comparison 'vip'): only 1 of 20 identities (5.0%) hold it"
    ]


def test_date_column_whose_text_never_parses_is_an_error() -> None:
    cfg = MatchConfig.from_settings({"comparisons": [{"name": "d", "kind": "date", "column": "joined"}]})
    df = _with_extra([{}, {}], joined=["last tuesday", "soon"])
    errors, _ = fill_problems(cfg, column_fill(df, cfg))
    assert "none of its 2 values parses" in errors[0] and "date_format" in errors[0]
