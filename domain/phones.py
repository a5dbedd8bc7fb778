"""National significant digits of a phone number: the key of a number whose region is unknown.

Ingest stores them beside the E.164 form (`identities.phone_national`, migration 10) and
matching compares and blocks on them. A national-format number that is not valid in the default
region has no E.164 (ingest never fabricates one), but its digits still identify it:
`06 12 34 56 78` (trunk prefix 0) and `+33 6 12 34 56 78` (country code 33) both have the national
significant number 612345678. Country calling codes are prefix-free (ITU-T E.164), so stripping
the one a `+`/`00` number starts with is unambiguous. Pure polars, here because ingest (which
stores them) and matching (which derives them for frames that lack the column) both need one
definition.
"""

from __future__ import annotations

import polars as pl
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

NATIONAL = "phone_national"
# shorter digit strings (short codes, extensions) identify nobody
MIN_DIGITS = 6
# the country calling codes by their number of digits (1, 2 or 3)
COUNTRY_CODES: dict[int, list[str]] = {
    k: sorted(str(cc) for cc in COUNTRY_CODE_TO_REGION_CODE if len(str(cc)) == k) for k in (1, 2, 3)
}
# an extension written after the number ("x12", "ext. 5", "#3") is no part of it
EXTENSION = r"(?i)\s*(?:ext\.?|extension|x|#)\s*\d{1,6}$"


def _strip_country_code(digits: pl.Expr) -> pl.Expr:
    out = digits
    for k in (3, 2, 1):
        out = pl.when(digits.str.slice(0, k).is_in(COUNTRY_CODES[k])).then(digits.str.slice(k)).otherwise(out)
    return out


def national_digits(e164: pl.Series, raw: pl.Series | None = None) -> pl.Series:
    """Per row: the national significant digits from the E.164 form, else from the raw value (null if too short)."""
    e = e164.cast(pl.String)
    from_e164 = (
        pl.DataFrame({"e": e}).select(_strip_country_code(pl.col("e").str.strip_prefix("+"))).to_series()
    )
    without = e.is_null()
    if raw is not None and without.any():
        # the raw value only where no E.164 form is (the regexes over every row cost more than all else)
        text = raw.cast(pl.String).filter(without).str.strip_chars()
        digits = text.str.replace(EXTENSION, "").str.replace_all(r"\D", "")
        from_raw = (
            pl.DataFrame({"text": text, "digits": digits})
            .select(
                pl.when(pl.col("text").str.starts_with("+") | pl.col("digits").str.starts_with("00"))
                .then(_strip_country_code(pl.col("digits").str.strip_prefix("00")))
                .otherwise(pl.col("digits").str.replace(r"^0+", ""))
            )
            .to_series()
        )
        from_e164 = from_e164.scatter(without.arg_true(), from_raw)
    return from_e164.set(from_e164.str.len_chars() < MIN_DIGITS, None).alias(NATIONAL)
