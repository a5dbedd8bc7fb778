"""National significant digits: from the E.164 form when there is one, else from the raw value."""

from __future__ import annotations

import polars as pl

from domain.phones import NATIONAL, national_digits


def test_digits_come_from_e164_else_from_the_raw_value_row_by_row() -> None:
    e164 = pl.Series(["+33612345678", None, None, None, "+4412", None, None, "+14155552671"], dtype=pl.String)
    raw = pl.Series(
        [
            "06 12 34 56 78",  # ignored: the E.164 form wins
            "+33 6 12 34 56 78",  # international: the country code goes
            "0612345678",  # national: the trunk prefix goes
            "0044 20 7946 0018 ext. 5",  # 00 prefix, extension dropped
            None,  # E.164 too short: no key
            "12",  # too short
            None,
            "whatever",
        ],
        dtype=pl.String,
    )
    digits = national_digits(e164, raw)
    assert digits.name == NATIONAL
    assert digits.to_list() == [
        "612345678",
        "612345678",
        "612345678",
        "2079460018",
        None,
        None,
        None,
        "4155552671",
    ]


def test_without_raw_values_only_the_e164_form_counts() -> None:
    digits = national_digits(pl.Series(["+33612345678", None], dtype=pl.String))
    assert digits.to_list() == ["612345678", None]
    assert national_digits(pl.Series([], dtype=pl.String), pl.Series([], dtype=pl.String)).len() == 0
