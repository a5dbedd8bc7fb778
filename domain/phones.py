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
    raw = pl.Series([None] * e164.len(), dtype=pl.String) if raw is None else raw
    frame = pl.DataFrame({"e": e164.cast(pl.String), "raw": raw.cast(pl.String)})
    e = pl.col("e").str.strip_prefix("+")
    text = pl.col("raw").str.strip_chars()
    digits = text.str.replace(EXTENSION, "").str.replace_all(r"\D", "")
    international = text.str.starts_with("+") | digits.str.starts_with("00")
    from_raw = (
        pl.when(international)
        .then(_strip_country_code(digits.str.strip_prefix("00")))
        .otherwise(digits.str.replace(r"^0+", ""))
    )
    key = pl.when(pl.col("e").is_not_null()).then(_strip_country_code(e)).otherwise(from_raw)
    return frame.select(pl.when(key.str.len_chars() >= MIN_DIGITS).then(key).alias(NATIONAL)).to_series()
