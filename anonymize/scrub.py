"""Irreversible replacement of one person's data: pure polars frames in, replaced frames out.

Nothing here is reversible: values become NULL, a fixed marker or a random token. The only thing
derived from a value is a *keyed* hash (HMAC-SHA256 with the anonymization key), kept so that the
same identity coming back is recognised as new; a plain hash of an e-mail address or phone number
could be reversed by guessing, a keyed one cannot without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

ERASED = "[erased]"
CONTENT_ERASED = "[content anonymized upon author request]"
EMAIL_ERASED = "[email erased]"
PHONE_ERASED = "[phone erased]"
# Values shorter than this are not searched for nor replaced in free text: "Al" or "12" would match
# inside unrelated words and numbers everywhere (false hits), while saying nothing about a person.
MIN_VALUE_LENGTH = 4

EMAIL_PATTERN = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# seven or more digits, optionally with a leading + and spaces, dots, dashes or brackets between;
# ISO dates (2024-03-01) are not numbers of anyone. Long order numbers are erased too: better safe.
PHONE_PATTERN = re.compile(r"(?<![\w-])(?!\d{4}-\d{2}-\d{2})\+?\(?\d(?:[\s().-]{0,2}\d){6,}")


def erased_token() -> str:
    """A random, non-guessable replacement for a key column that must stay unique and non-null."""
    return "erased:" + secrets.token_hex(16)


def keyed_hash(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 (hex) of a value under the anonymization key; `kind` keeps key spaces apart."""
    return hmac.new(key, f"{kind}\x1f{value}".encode(), hashlib.sha256).hexdigest()


def identity_key_hash(key: bytes, channel: str, external_id: str) -> str:
    """The keyed hash of an identity's (channel, external_id) key."""
    return keyed_hash(key, "identity", f"{channel}\x1f{external_id}")


@dataclass
class PersonValues:
    """What identifies a person, gathered from its rows before they are erased (kept in memory only)."""

    # unique identifiers (addresses, numbers, handles, channel ids): searched for store-wide
    identifiers: set[str] = field(default_factory=set)
    # names: replaced in free text of the person's rows, not searched store-wide (others share them)
    names: set[str] = field(default_factory=set)

    def searchable(self) -> list[str]:
        """Identifiers long enough to search for without false hits, longest first."""
        return sorted({v for v in self.identifiers if len(v) >= MIN_VALUE_LENGTH}, key=lambda v: (-len(v), v))

    def replaceable(self) -> list[str]:
        """Every value to replace in the person's free text, longest first (so 'Ann Lee' goes before 'Ann')."""
        # word-bounded and only in the person's own text, so short names ("Zoë", "Li") are replaced too
        values = {v for v in self.identifiers | self.names if len(v) >= 2}
        return sorted(values, key=lambda v: (-len(v), v))


def _strings(values: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for value in values:
        if isinstance(value, list | tuple):
            found |= _strings(value)
        elif value is not None and str(value).strip():
            found.add(str(value).strip())
    return found


def person_values(customers: pl.DataFrame, identities: pl.DataFrame) -> PersonValues:
    """The identifying values and names held in a person's customer and identity rows."""
    values = PersonValues()

    def column(frame: pl.DataFrame, name: str) -> list[Any]:
        return frame.get_column(name).to_list() if name in frame.columns else []

    for name in ("external_id", "email", "email_norm", "email_key", "phone", "phone_e164", "screen_name"):
        values.identifiers |= _strings(column(identities, name))
    values.identifiers |= {handle.lstrip("@") for handle in _strings(column(identities, "screen_name"))}
    for name in ("emails", "phones"):
        values.identifiers |= _strings(column(customers, name))
    for frame in (customers, identities):
        for name in ("first_name", "last_name", "display_name"):
            values.names |= _strings(column(frame, name))
        if "first_name" in frame.columns and "last_name" in frame.columns:
            for first, last in zip(column(frame, "first_name"), column(frame, "last_name"), strict=True):
                if first and last:
                    values.names.add(f"{first} {last}".strip())
    return values


def scrub_text(text: str | None, values: PersonValues) -> str | None:
    """Free text with e-mail addresses, phone numbers and the person's known values replaced."""
    if text is None:
        return None
    result = EMAIL_PATTERN.sub(EMAIL_ERASED, text)
    result = PHONE_PATTERN.sub(PHONE_ERASED, result)
    for value in values.replaceable():
        result = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", ERASED, result, flags=re.IGNORECASE)
    return result


def scrub_json(text: str | None, values: PersonValues, erase_strings: bool = False) -> str | None:
    """JSON with every string leaf scrubbed (or, with `erase_strings`, replaced by the marker)."""
    if text is None:
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return json.dumps(ERASED) if erase_strings else json.dumps(scrub_text(text, values))

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        if isinstance(node, str):
            return ERASED if erase_strings else scrub_text(node, values)
        return node

    return json.dumps(walk(document), ensure_ascii=False)


def _nulls(frame: pl.DataFrame, columns: Iterable[str]) -> list[pl.Expr]:
    return [pl.lit(None, dtype=frame.schema[c]).alias(c) for c in columns if c in frame.columns]


def _tokens(frame: pl.DataFrame) -> pl.Series:
    return pl.Series([erased_token() for _ in range(frame.height)], dtype=pl.String)


def anonymize_customers(customers: pl.DataFrame, personal: dict[str, str], now: datetime) -> pl.DataFrame:
    """Customer rows with every personal column emptied, status 'anonymized' and the lock reason gone."""
    lists = [c for c in ("emails", "phones", "agent_edited") if c in customers.columns]
    return customers.with_columns(
        *_nulls(customers, [c for c in personal if c not in lists]),
        *[pl.lit([], dtype=customers.schema[c]).alias(c) for c in lists],
        _nulls(customers, ["lock_reason"])[0],
        pl.lit("anonymized").alias("status"),
        pl.lit(now, dtype=customers.schema["anonymized_at"]).alias("anonymized_at"),
        pl.lit(now, dtype=customers.schema["updated_at"]).alias("updated_at"),
    )


def anonymize_identities(
    identities: pl.DataFrame, personal: dict[str, str], key: bytes
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Identity rows with personal columns emptied and a random external id; plus the keyed hashes to keep.

    The keyed hashes cover the (channel, external_id) key, the normalized e-mail and the E.164 number.
    `record_hash` (an md5 of the raw values, i.e. a plain hash of guessable values) is replaced too.
    """
    hashes: list[dict[str, str]] = []
    key_hashes: list[str] = []
    for row in identities.select("channel", "external_id", "email_norm", "phone_e164").iter_rows(named=True):
        identity_hash = identity_key_hash(key, row["channel"], row["external_id"])
        key_hashes.append(identity_hash)
        hashes.append({"key_hash": identity_hash, "key_kind": "identity"})
        if row["email_norm"]:
            hashes.append({"key_hash": keyed_hash(key, "email", row["email_norm"]), "key_kind": "email"})
        if row["phone_e164"]:
            hashes.append({"key_hash": keyed_hash(key, "phone", row["phone_e164"]), "key_kind": "phone"})
    erased = identities.with_columns(
        *_nulls(identities, [c for c in personal if c != "external_id"]),
        _tokens(identities).alias("external_id"),
        _tokens(identities).alias("record_hash"),
        pl.Series(key_hashes, dtype=pl.String).alias("key_hash"),
        pl.lit(True).alias("anonymized"),
        pl.lit(False).alias("match_pending"),
    )
    kept = pl.DataFrame(hashes, schema={"key_hash": pl.String, "key_kind": pl.String}).unique("key_hash")
    return erased, kept


def anonymize_conversations(conversations: pl.DataFrame) -> pl.DataFrame:
    """Conversations with a random thread id and the title erased (channel and times stay)."""
    return conversations.with_columns(
        _tokens(conversations).alias("thread_id"),
        pl.when(pl.col("title").is_not_null()).then(pl.lit(ERASED)).otherwise(None).alias("title"),
    )


def anonymize_messages(messages: pl.DataFrame, values: PersonValues) -> pl.DataFrame:
    """The customer's own messages lose their content; agent replies in its conversations are scrubbed.

    Rows, authors' kinds, agent names and times stay, so counts and the agent side of reports add up.
    """
    scrubbed = messages.get_column("body").map_elements(
        lambda body: scrub_text(body, values), return_dtype=pl.String, skip_nulls=True
    )
    return messages.with_columns(
        pl.when(pl.col("author_kind") == "agent")
        .then(scrubbed)
        .otherwise(pl.when(pl.col("body").is_not_null()).then(pl.lit(CONTENT_ERASED)))
        .alias("body"),
        # both may be md5s of the original text (thread id, body): guessable, so replaced by random tokens
        _tokens(messages).alias("record_hash"),
        _tokens(messages).alias("external_message_id"),
        pl.lit(True).alias("anonymized"),
    )


def erase_text(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """Every non-null value of a free-text column replaced by the marker."""
    return frame.with_columns(
        pl.when(pl.col(column).is_not_null()).then(pl.lit(ERASED)).otherwise(None).alias(column)
    )


def scrub_text_column(frame: pl.DataFrame, column: str, values: PersonValues) -> pl.DataFrame:
    """A free-text column with the person's values, addresses and numbers scrubbed."""
    return frame.with_columns(
        pl.col(column).map_elements(lambda text: scrub_text(text, values), return_dtype=pl.String)
    )


def scrub_json_column(
    frame: pl.DataFrame, column: str, values: PersonValues, erase_strings: bool = False
) -> pl.DataFrame:
    """A JSON column with every string leaf scrubbed (or erased)."""
    return frame.with_columns(
        pl.col(column).map_elements(
            lambda text: scrub_json(text, values, erase_strings), return_dtype=pl.String
        )
    )


_PHONE_LIKE = re.compile(r"\+?[\d ().-]+")


def scrub_spellings(text: str | None, literals: Iterable[str], patterns: Iterable[str]) -> str | None:
    """Text of someone else with one person's spellings (literal, case-insensitive) and phone patterns replaced.

    Unlike `scrub_text` it leaves other addresses and numbers alone: the text is not the person's.
    """
    if text is None:
        return None
    result = text
    for literal in sorted(set(literals), key=lambda v: (-len(v), v)):
        marker = (
            EMAIL_ERASED if "@" in literal else PHONE_ERASED if _PHONE_LIKE.fullmatch(literal) else ERASED
        )
        result = re.sub(re.escape(literal), marker, result, flags=re.IGNORECASE)
    for pattern in patterns:
        # the pattern takes one character either side (RE2 has no look-around): put them back
        result = re.sub(pattern, lambda m: _edges(m.group(0)), result, flags=re.IGNORECASE)
    return result


def _edges(matched: str) -> str:
    first = matched[0] if matched and not matched[0].isdigit() and matched[0] not in "+(0" else ""
    last = matched[-1] if matched and not matched[-1].isdigit() else ""
    return f"{first}{PHONE_ERASED}{last}"


def scrub_spellings_column(
    frame: pl.DataFrame, column: str, literals: list[str], patterns: list[str]
) -> pl.DataFrame:
    """A free-text column of other people's rows with one person's spellings replaced."""
    return frame.with_columns(
        pl.col(column).map_elements(
            lambda text: scrub_spellings(text, literals, patterns), return_dtype=pl.String
        )
    )
