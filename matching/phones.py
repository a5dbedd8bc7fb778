"""National significant digits for frames that lack the stored column (domain/phones.py defines them).

Identities read from the store carry `phone_national` (ingest stores it); a frame built by hand
or by an older caller gets it derived here from `phone_e164` and the raw `phone`.
"""

from __future__ import annotations

import polars as pl

from domain.phones import NATIONAL, national_digits

__all__ = ["NATIONAL", "national_digits", "with_national_digits"]


def with_national_digits(
    identities: pl.DataFrame, e164: str = "phone_e164", raw: str = "phone"
) -> pl.DataFrame:
    """The frame with `phone_national` added (from `e164` and, where the frame has it, the raw phone)."""
    if NATIONAL in identities.columns or e164 not in identities.columns:
        return identities
    raw_s = identities.get_column(raw) if raw in identities.columns else None
    return identities.with_columns(national_digits(identities.get_column(e164), raw_s))
