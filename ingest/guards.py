"""Guards against input that reads fine but would be stored wrong (applied between reading and validation).

- The id of an email or phone channel IS the address or number, so it is kept in its normalized
  form: `ws@ex.com`, `" ws@ex.com"`, `"ws@ex.com "` and `WS@EX.COM` are one identity (trimmed,
  NFKC, lower-cased), and a phone id is its E.164 form when it parses as a valid number.
- A phone written in scientific notation (`4.4770090013e11`: a spreadsheet turned it into a float
  and lost digits) is not a number anyone can call: its normalized value is left empty and it is
  counted as an invalid phone (the raw value is kept).
- A timestamp later than now plus `FUTURE_TOLERANCE` (`2999-01-01`) cannot be true: it is flagged
  like an unparseable one (the row loads, the raw value is kept, the warning is counted) and is not
  used for ordering, so it can neither freeze an identity (every later correction "stale") nor keep
  retention from ever coming due.
- Values kept for people to read (`quarantine.raw_row`) are bounded: a long value keeps a prefix
  and the SHA-256 of the whole.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any

import polars as pl

from domain.errors import BadInput
from domain.phones import NATIONAL
from domain.settings import IngestSettings
from ingest.phones import phone_columns
from store.identities import FUTURE_TOLERANCE

SCIENTIFIC_NUMBER = r"^\s*[+-]?\d+(?:[.,]\d+)?[eE][+-]?\d+\s*$"
RAW_VALUE_LIMIT = 2000  # characters of one value kept in quarantine.raw_row
RAW_ROW_LIMIT = 20_000  # characters of one whole raw row kept in quarantine.raw_row


def channels_with_id_from(settings: IngestSettings, column: str) -> list[str]:
    """The channels whose external id is the value of `column` (email or phone)."""
    return sorted(name for name, channel in settings.channels.items() if channel.external_id_from == column)


def _fold_address(e: pl.Expr) -> pl.Expr:
    return e.str.normalize("NFKC").str.strip_chars().str.to_lowercase()


def canonical_channel_ids(frame: pl.DataFrame, settings: IngestSettings) -> pl.DataFrame:
    """Email-channel ids folded like addresses, phone-channel ids in E.164 when valid (identities and messages)."""
    if "external_id" not in frame.columns or "channel" not in frame.columns or frame.height == 0:
        return frame
    email_channels = channels_with_id_from(settings, "email")
    phone_channels = channels_with_id_from(settings, "phone")
    external_id = pl.col("external_id")
    frame = frame.with_columns(
        pl.when(pl.col("channel").is_in(email_channels) & external_id.is_not_null())
        .then(_fold_address(external_id).replace("", None).fill_null(external_id))
        .otherwise(external_id)
        .alias("external_id")
    )
    on_phone = frame.get_column("channel").is_in(phone_channels).fill_null(False)
    if not on_phone.any():
        return frame
    ids = frame.get_column("external_id").cast(pl.String)
    plain = ids.filter(on_phone).str.contains(SCIENTIFIC_NUMBER).not_().fill_null(True)
    parsed = phone_columns(ids.filter(on_phone), settings.default_region)
    usable = parsed.get_column("phone_valid").fill_null(False) & plain
    e164 = parsed.get_column("phone_e164").zip_with(usable, ids.filter(on_phone).str.strip_chars())
    return frame.with_columns(ids.scatter(on_phone.arg_true(), e164).alias("external_id"))


def scientific_phones_invalid(frame: pl.DataFrame) -> pl.DataFrame:
    """Phones written as floats (`4.4770090013e11`) get no E.164 value and count as invalid."""
    if "phone" not in frame.columns or "phone_e164" not in frame.columns:
        return frame
    mangled = pl.col("phone").str.contains(SCIENTIFIC_NUMBER).fill_null(False)
    return frame.with_columns(
        pl.when(mangled).then(None).otherwise(pl.col("phone_e164")).alias("phone_e164"),
        pl.when(mangled).then(False).otherwise(pl.col("phone_valid")).alias("phone_valid"),
        # nor national digits: the float's digits are not the number's
        *(
            [pl.when(mangled).then(None).otherwise(pl.col(NATIONAL)).alias(NATIONAL)]
            if NATIONAL in frame.columns
            else []
        ),
    )


def future_timestamps_flagged(frame: pl.DataFrame, columns: list[str], now: datetime) -> pl.DataFrame:
    """Timestamps beyond now + FUTURE_TOLERANCE: `<c>_ts` emptied and `<c>_bad` set (a counted warning)."""
    limit = now + FUTURE_TOLERANCE
    updates = []
    for column in columns:
        if f"{column}_ts" not in frame.columns:
            continue
        future = (pl.col(f"{column}_ts") > limit).fill_null(False)
        updates += [
            pl.when(future).then(None).otherwise(pl.col(f"{column}_ts")).alias(f"{column}_ts"),
            (pl.col(f"{column}_bad").fill_null(False) | future).alias(f"{column}_bad"),
        ]
    return frame.with_columns(updates) if updates else frame


def bounded_value(value: Any, limit: int = RAW_VALUE_LIMIT) -> Any:
    """A long text as its first `limit` characters plus the SHA-256 and length of the whole."""
    if not isinstance(value, str) or len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{value[:limit]}… [{len(value)} characters in all, sha256 {digest}]"


def bounded_raw_row(data: dict[str, Any]) -> str:
    """The JSON of a quarantined row with every value bounded, and the whole row bounded too."""
    text = json.dumps({key: bounded_value(value) for key, value in data.items()}, ensure_ascii=False)
    if len(text) <= RAW_ROW_LIMIT:
        return text
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return json.dumps({"_truncated": text[:RAW_ROW_LIMIT], "_characters": len(text), "_sha256": digest})


class JsonValueError(BadInput, ValueError):
    """A JSON line that parses but cannot be taken as it is (a repeated key, NaN or Infinity)."""


def _no_constants(name: str) -> float:
    raise JsonValueError(f"{name} is not a JSON value (give the number as text, or leave it out)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonValueError(
                f"key {key!r} is given twice in one object (one of the values would be lost)"
            )
        result[key] = value
    return result


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses as inf
        raise JsonValueError(f"the number {text[:40]} is too large to be a value")
    return value


def strict_json(line: str) -> Any:
    """`json.loads` that refuses repeated keys and NaN/Infinity (Python would take them silently)."""
    return json.loads(line, object_pairs_hook=_unique_keys, parse_constant=_no_constants, parse_float=_finite)
