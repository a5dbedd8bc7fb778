"""SQL for agents' actions on one customer: lock, unlock, profile edits, comments, identity search."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from domain.columns import PROFILE_FIELDS
from domain.statuses import CustomerStatus
from store.conditions import Conditions
from store.db import Store

# The profile columns an agent may set by hand (emails and phones are lists, edited by add/remove).
EDITABLE_COLUMNS = PROFILE_FIELDS


def get_customer(store: Store, customer_id: int) -> dict[str, Any] | None:
    """One customer row (profile_sources parsed), or None."""
    rows = store.rows("SELECT * FROM customers WHERE customer_id = ?", [customer_id])
    if not rows:
        return None
    row = rows[0]
    row["profile_sources"] = json.loads(row["profile_sources"]) if row["profile_sources"] else {}
    return row


def states(store: Store, customer_ids: list[int]) -> dict[int, dict[str, Any]]:
    """status, lock and anonymized_at of these customers, keyed by id (absent ids left out)."""
    ids = ", ".join(str(int(i)) for i in customer_ids) or "NULL"
    rows = store.rows(
        f"SELECT customer_id, status, locked, lock_reason, anonymized_at FROM customers WHERE customer_id IN ({ids})"
    )
    return {int(row["customer_id"]): row for row in rows}


def set_lock(store: Store, customer_id: int, agent: str, reason: str, now: datetime) -> None:
    """Lock a customer: no suggestion, merge, edit or split touches it until unlocked."""
    store.execute(
        """UPDATE customers SET locked = TRUE, lock_reason = ?, locked_by = ?, locked_at = ?, updated_at = ?
        WHERE customer_id = ?""",
        [reason, agent, now, now, customer_id],
    )


def clear_lock(store: Store, customer_id: int, now: datetime) -> None:
    """Unlock a customer."""
    store.execute(
        """UPDATE customers SET locked = FALSE, lock_reason = NULL, locked_by = NULL, locked_at = NULL,
            updated_at = ? WHERE customer_id = ?""",
        [now, customer_id],
    )


def update_profile(
    store: Store,
    customer_id: int,
    values: dict[str, Any],
    agent_edited: list[str],
    profile_sources: dict[str, Any],
    now: datetime,
) -> None:
    """Write edited profile columns, the agent-edited field list and the field sources."""
    unknown = set(values) - set(EDITABLE_COLUMNS)
    if unknown:  # column names go into the statement text: only known ones
        raise ValueError(f"not editable: {sorted(unknown)}")
    assignments = "".join(f"{column} = ?, " for column in values)
    store.execute(
        f"""UPDATE customers SET {assignments}agent_edited = ?, profile_sources = ?, updated_at = ?
        WHERE customer_id = ?""",
        [*values.values(), agent_edited, json.dumps(profile_sources, default=str), now, customer_id],
    )


def conversation_customer(store: Store, conversation_id: int) -> int | None:
    """The customer holding the identity a conversation belongs to (None when no such conversation)."""
    value = store.scalar(
        """SELECT i.customer_id FROM conversations c JOIN identities i ON i.identity_id = c.identity_id
        WHERE c.conversation_id = ?""",
        [conversation_id],
    )
    return None if value is None else int(value)


def conversation_exists(store: Store, conversation_id: int) -> bool:
    """Whether the conversation is in the store."""
    return bool(
        store.scalar("SELECT count(*) FROM conversations WHERE conversation_id = ?", [conversation_id])
    )


def insert_comment(
    store: Store, agent: str, body: str, customer_id: int | None, conversation_id: int | None, now: datetime
) -> int:
    """Add a comment to a customer's activity log and/or a conversation; returns its id."""
    comment_id = store.next_id("comments", "comment_id")
    store.execute(
        "INSERT INTO comments VALUES (?, ?, ?, ?, ?, ?)",
        [comment_id, customer_id, conversation_id, agent, body, now],
    )
    return comment_id


_IDENTITY_COLUMNS = """i.identity_id, i.customer_id, i.channel, i.external_id, i.display_name, i.first_name,
    i.last_name, i.email_norm AS email, i.phone_e164 AS phone, i.screen_name"""


def search_candidates(
    store: Store,
    *,
    email: str | None = None,
    email_key: str | None = None,
    phone_e164: str | None = None,
    phone_suffix: str | None = None,
    handle: str | None = None,
    name_keys: list[str] | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """Identities of active customers that may match a search, most promising first.

    Every filter is an equality, prefix or suffix on one normalized identity column, so a million
    identities are filtered in one quick scan; names are then ordered by Jaro-Winkler among the rows
    whose first and last names start like the tokens (a typo later in a name still finds it). Only
    the few best rows are joined to their customers (merged customers' identities moved to the
    survivor, so the active check rarely drops one). The caller scores them with rapidfuzz.
    """
    conditions = Conditions()
    conditions.when(email, "starts_with(i.email_norm, ?)")
    conditions.when(email_key, "i.email_key = ?")
    conditions.when(phone_e164, "i.phone_e164 = ?")
    conditions.when(phone_suffix, "ends_with(i.phone_e164, ?)")
    conditions.when(handle, "starts_with(i.screen_name_norm, ?)")
    keys = [key for key in (name_keys or []) if key]
    score = "0.0"
    score_params: list[Any] = []
    if keys:
        # each token starts the first or the last name (two letters: typos come later in a word), or is
        # inside one ("pilar" of "María Pilar", "byrne" of "Taylor-Byrne")
        conditions.add(
            " AND ".join(
                """(starts_with(i.first_name_key, ?) OR starts_with(i.last_name_key, ?)
                    OR contains(i.first_name_key, ?) OR contains(i.last_name_key, ?))"""
                for _ in keys
            ),
            *(value for key in keys for value in (key[:2], key[:2], key, key)),
        )
        score = " + ".join(
            "greatest(jaro_winkler_similarity(coalesce(i.first_name_key, ''), ?),"
            " jaro_winkler_similarity(coalesce(i.last_name_key, ''), ?))"
            for _ in keys
        )
        score_params = [value for key in keys for value in (key, key)]
    if not conditions:
        return []
    where = conditions.any_of()
    # Only the ids are filtered over the whole table: reading every output column of a million rows
    # first would cost several times the filter; the join then reads just the few rows found.
    return store.rows(
        f"""WITH found AS (
            SELECT i.identity_id, {score} AS prefilter_score FROM identities i
            WHERE NOT i.anonymized AND ({where})
            ORDER BY prefilter_score DESC, i.identity_id LIMIT ?)
        SELECT {_IDENTITY_COLUMNS}, f.prefilter_score
        FROM found f JOIN identities i ON i.identity_id = f.identity_id
        JOIN customers c ON c.customer_id = i.customer_id
        WHERE c.status = '{CustomerStatus.ACTIVE}' ORDER BY f.prefilter_score DESC, i.identity_id""",
        [*score_params, *conditions.params, limit],
    )


def overwrite(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite columns of customers (customer_id and the columns): an erasure anonymizes them."""
    return store.overwrite("customers", "customer_id", frame, columns)


def overwrite_comments(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite columns of comments (comment_id and the columns): an erasure erases or scrubs them."""
    return store.overwrite("comments", "comment_id", frame, columns)
