"""Read-only SQL behind the web page: the review queue, the customer panel's sections, customer search.

Every query here is bounded (LIMIT, or one customer's rows), so a page stays fast on a large store.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from domain.statuses import (
    HIDDEN_BANDS,
    OPEN_SUGGESTIONS,
    Band,
    CustomerStatus,
    MergeStatus,
    SuggestionStatus,
)
from store.conditions import Conditions
from store.db import Store
from store.views.review import order_clause, pending_filtered

QUEUE_BANDS = (Band.AUTO_APPROVE, Band.REVIEW, Band.RELATED, Band.POSSIBLE)
_PENDING = SuggestionStatus.PENDING
_OPEN = ", ".join(f"'{status}'" for status in sorted(OPEN_SUGGESTIONS))
_HIDDEN = ", ".join(f"'{band}'" for band in sorted(HIDDEN_BANDS))
_CUSTOMER_NAME = "coalesce(nullif(trim(concat_ws(' ', c.first_name, c.last_name)), ''), c.display_name)"


def queue_page(
    store: Store,
    band: str | None = None,
    channel: str | None = None,
    limit: int = 20,
    offset: int = 0,
    skipped: list[int] | None = None,
    order: str = "probable",
) -> tuple[list[dict[str, Any]], int]:
    """Pending suggestions, most probable first, or most informative first with order="informative"
    (store.views.review.ORDERS; those the agent skipped last), with parsed evidence; and how many
    match the filter.

    A pair is on a channel when either customer has an identity there (as bulk approve reads it).
    """
    later = f"suggestion_id IN ({_ids(skipped)}), " if skipped else ""
    # the possible band (below review) is off the default queue: listed when asked for by name
    # (the informative order includes it: the uncertain pairs are there)
    informative = order == "informative"
    ordering = order_clause(order)
    # two phases: pick the page's ids over the narrow columns (order, filter), then read the wide
    # rows (evidence) of those ids only; a top-N that carries the evidence costs three times as much
    if not channel:
        band_clause = "AND s.band = ?" if band else ("" if informative else f"AND s.band NOT IN ({_HIDDEN})")
        params: list[Any] = [band] if band else []
        source = f"SELECT s.* FROM suggestions s WHERE s.status = '{_PENDING}' {band_clause}"
        # the plain queue: the count alone is cheap, a window count over every pending pair is not
        picked = store.rows(
            f"SELECT suggestion_id FROM ({source}) ORDER BY {later}{ordering} LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        )
        total = int(store.scalar(f"SELECT count(*) FROM ({source})", params))
    else:
        source, params = pending_filtered(band, channel, include_possible=informative)
        picked = store.rows(
            f"""SELECT suggestion_id, count(*) OVER () AS total FROM ({source})
            ORDER BY {later}{ordering} LIMIT ? OFFSET ?""",
            [*params, int(limit), int(offset)],
        )
        total = (
            int(picked[0]["total"])
            if picked
            else int(store.scalar(f"SELECT count(*) FROM ({source})", params))
        )
    ids = [int(row["suggestion_id"]) for row in picked]
    if not ids:
        return [], total
    wide = store.rows(
        f"""SELECT suggestion_id, customer_id_l, customer_id_r, identity_id_l, identity_id_r, probability,
               match_weight, band, rule, reason, related_only, CAST(evidence AS VARCHAR) AS evidence, status_reason
        FROM suggestions WHERE suggestion_id IN ({_ids(ids)})"""
    )
    by_id = {int(row["suggestion_id"]): row for row in wide}
    rows = [by_id[i] for i in ids if i in by_id]
    for row in rows:
        row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else []
    return rows, total


def channels(store: Store) -> list[str]:
    """The channels present in the store (for filters)."""
    return [r["channel"] for r in store.rows("SELECT DISTINCT channel FROM identities ORDER BY 1")]


def _ids(values: list[int]) -> str:
    """An SQL list of integers (ints only, so nothing can be injected); scans prune best on literals."""
    return ", ".join(str(int(v)) for v in values) or "NULL"


def customers_overview(store: Store, customer_ids: list[int], recent: int = 3) -> dict[int, dict[str, Any]]:
    """Name, status, identities (their values as ingested) and a few recent messages of each customer, by id.

    Step by step, and each step in two phases: find the row ids by filtering one narrow column, then
    fetch the wide rows by primary key (an index lookup). Joining messages to identities, or
    filtering wide rows by a list, scans far more of a large store.
    """
    if not customer_ids:
        return {}
    ids = sorted({int(i) for i in customer_ids})
    people = store.rows(
        f"""SELECT c.customer_id, {_CUSTOMER_NAME} AS name, c.status, c.merged_into, c.locked, c.lock_reason
        FROM customers c WHERE c.customer_id IN ({_ids(ids)})"""
    )
    overview = {int(p["customer_id"]): {**p, "identities": [], "messages": []} for p in people}
    keys = store.rows(f"SELECT identity_id, customer_id FROM identities WHERE customer_id IN ({_ids(ids)})")
    owner = {int(k["identity_id"]): int(k["customer_id"]) for k in keys}
    for identity in store.rows(
        f"""SELECT customer_id, identity_id, channel, external_id, display_name, first_name, last_name,
               screen_name, email, phone, city, postcode, country, company, gender,
               CAST(birth_date AS VARCHAR) AS birth_date, anonymized
        FROM identities WHERE identity_id IN ({_ids(list(owner))}) ORDER BY identity_id"""
    ):
        if int(identity["customer_id"]) in overview:
            overview[int(identity["customer_id"])]["identities"].append(identity)
    conversations = store.rows(
        f"SELECT conversation_id, identity_id, channel FROM conversations WHERE identity_id IN ({_ids(list(owner))})"
    )
    channel_of = {int(c["conversation_id"]): c["channel"] for c in conversations}
    customer_of = {int(c["conversation_id"]): owner[int(c["identity_id"])] for c in conversations}
    latest = store.rows(
        f"""SELECT message_id, conversation_id FROM messages WHERE conversation_id IN ({_ids(list(customer_of))})
        ORDER BY created_at DESC, message_id DESC"""
    )
    picked: dict[int, list[int]] = {}
    for row in latest:
        chosen = picked.setdefault(customer_of[int(row["conversation_id"])], [])
        if len(chosen) < recent:
            chosen.append(int(row["message_id"]))
    wanted = [message_id for chosen in picked.values() for message_id in chosen]
    for message in store.rows(
        f"""SELECT message_id, conversation_id, author_kind, agent_name, body, created_at FROM messages
        WHERE message_id IN ({_ids(wanted)}) ORDER BY created_at DESC, message_id DESC"""
    ):
        person = overview.get(customer_of[int(message["conversation_id"])])
        if person is not None:
            person["messages"].append({**message, "channel": channel_of[int(message["conversation_id"])]})
    return overview


def customer_profile(store: Store, customer_id: int) -> dict[str, Any] | None:
    """The customers row of one customer (no redirect: callers resolve merges first)."""
    rows = store.rows(
        f"SELECT c.*, {_CUSTOMER_NAME} AS name FROM customers c WHERE c.customer_id = ?", [customer_id]
    )
    return rows[0] if rows else None


def customer_identities(store: Store, customer_id: int) -> list[dict[str, Any]]:
    """A customer's identities, oldest first."""
    return store.rows(
        """SELECT identity_id, channel, external_id, display_name, first_name, last_name, screen_name, email,
               phone, email_norm, phone_e164, company, city, country, first_seen_at, changed_at, anonymized
        FROM identities WHERE customer_id = ? ORDER BY identity_id""",
        [customer_id],
    )


def activity(store: Store, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Messages, comments and audited actions of a customer, newest first."""
    return store.rows(
        """WITH convs AS (
            SELECT c.conversation_id, c.channel FROM conversations c JOIN identities i
            ON i.identity_id = c.identity_id WHERE i.customer_id = ?)
        SELECT * FROM (
            SELECT m.created_at AS occurred_at, 'message' AS kind, convs.channel AS channel,
                   CASE WHEN m.author_kind = 'agent' THEN coalesce(m.agent_name, 'agent') ELSE 'customer' END
                       AS who, m.body AS text, m.conversation_id, NULL AS details
            FROM messages m JOIN convs ON convs.conversation_id = m.conversation_id
            UNION ALL
            SELECT k.created_at, 'comment', NULL, k.agent, k.body, k.conversation_id, NULL FROM comments k
            WHERE k.customer_id = ? OR k.conversation_id IN (SELECT conversation_id FROM convs)
            UNION ALL
            SELECT a.occurred_at, 'action', NULL, a.actor, a.action, NULL, CAST(a.details AS VARCHAR)
            FROM audit_log a WHERE a.subject_kind = 'customer' AND a.subject_id = CAST(? AS VARCHAR))
        ORDER BY occurred_at DESC NULLS LAST LIMIT ?""",
        [customer_id, customer_id, customer_id, limit],
    )


def conversations(store: Store, customer_id: int) -> list[dict[str, Any]]:
    """A customer's conversations, most recent first."""
    return store.rows(
        """SELECT c.conversation_id, c.channel, c.thread_id, c.title, c.created_at, c.last_message_at
        FROM conversations c JOIN identities i ON i.identity_id = c.identity_id
        WHERE i.customer_id = ? ORDER BY c.last_message_at DESC NULLS LAST, c.conversation_id DESC LIMIT 100""",
        [customer_id],
    )


def conversation_messages(
    store: Store, customer_id: int, agent_only: bool = False, limit: int = 500
) -> list[dict[str, Any]]:
    """Messages of a customer's conversations (agent replies only when asked), oldest first per thread."""
    agent = "AND m.author_kind = 'agent'" if agent_only else ""
    return store.rows(
        f"""SELECT m.message_id, m.conversation_id, m.author_kind, m.agent_name, m.body, m.created_at, m.anonymized
        FROM messages m JOIN conversations c ON c.conversation_id = m.conversation_id
        JOIN identities i ON i.identity_id = c.identity_id
        WHERE i.customer_id = ? {agent} ORDER BY m.conversation_id, m.created_at, m.message_id LIMIT ?""",
        [customer_id, limit],
    )


def conversation_comments(store: Store, customer_id: int) -> list[dict[str, Any]]:
    """Comments on a customer's conversations, oldest first."""
    return store.rows(
        """SELECT k.comment_id, k.conversation_id, k.agent, k.body, k.created_at FROM comments k
        WHERE k.conversation_id IN (SELECT c.conversation_id FROM conversations c JOIN identities i
                                    ON i.identity_id = c.identity_id WHERE i.customer_id = ?)
        ORDER BY k.created_at, k.comment_id""",
        [customer_id],
    )


def search_customers(
    store: Store,
    *,
    customer_ids: Sequence[int] = (),
    email_prefix: str | None = None,
    phone_e164: str | None = None,
    phone_tail: str | None = None,
    handle: str | None = None,
    name_keys: Sequence[str] = (),
    display_text: str | None = None,
    limit: int = 30,
) -> list[dict[str, Any]]:
    """Customers with an identity matching any of the terms, each with all of its channels.

    The terms come from what the agent typed, normalized by `review.search.search_customers`:
    customer ids, an email or handle prefix, a phone's E.164 or its national tail, name-key prefixes
    (two keys match first and last name either way round), a piece of the display name.
    """
    conditions = Conditions()
    for customer_id in customer_ids:
        conditions.add("i.customer_id = ?", customer_id)
    conditions.when(email_prefix, "starts_with(i.email_norm, ?)")
    conditions.when(phone_e164, "i.phone_e164 = ?")
    if phone_tail is not None:
        conditions.add("ends_with(i.phone_e164, ?)", phone_tail)
    if handle is not None:
        conditions.add("starts_with(i.screen_name_norm, ?)", handle)
        conditions.add("starts_with(i.email_norm, ?)", handle)
    if len(name_keys) >= 2:
        both = "(starts_with(i.first_name_key, ?) AND starts_with(i.last_name_key, ?))"
        conditions.add(both, name_keys[0], name_keys[-1])
        conditions.add(both, name_keys[-1], name_keys[0])
    elif name_keys:
        one = "(starts_with(i.last_name_key, ?) OR starts_with(i.first_name_key, ?))"
        conditions.add(one, name_keys[0], name_keys[0])
    if display_text is not None:
        conditions.add("contains(i.display_name_norm, ?)", display_text)
    if not conditions:
        return []
    return store.rows(
        f"""WITH hits AS (
            SELECT DISTINCT i.customer_id FROM identities i WHERE NOT i.anonymized AND ({conditions.any_of()})
            ORDER BY 1 LIMIT 500)
        SELECT c.customer_id, {_CUSTOMER_NAME} AS name, c.status, c.locked,
               list(DISTINCT a.channel ORDER BY a.channel) AS channels, c.emails, c.phones
        FROM hits h JOIN customers c ON c.customer_id = h.customer_id
        JOIN identities a ON a.customer_id = c.customer_id
        WHERE c.status <> '{CustomerStatus.MERGED}' GROUP BY ALL ORDER BY c.customer_id LIMIT ?""",
        [*conditions.params, limit],
    )


def open_suggestions_of(store: Store, customer_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Pending, approved and held suggestions involving the customer, most probable first, with the other side."""
    rows = store.rows(
        f"""SELECT s.suggestion_id, s.customer_id_l, s.customer_id_r, s.identity_id_l, s.identity_id_r, s.probability,
               s.match_weight, s.band, s.status, s.status_reason, s.related_only, s.decided_by,
               CAST(s.evidence AS VARCHAR) AS evidence,
               CASE WHEN s.customer_id_l = ? THEN s.customer_id_r ELSE s.customer_id_l END AS other_id
        FROM suggestions s WHERE s.status IN ({_OPEN})
          AND (s.customer_id_l = ? OR s.customer_id_r = ?)
        ORDER BY s.status = '{_PENDING}', s.probability DESC, s.suggestion_id LIMIT ?""",
        [customer_id, customer_id, customer_id, limit],
    )
    others = {int(r["other_id"]) for r in rows}
    names = {
        int(r["customer_id"]): r["name"]
        for r in store.rows(
            f"SELECT c.customer_id, {_CUSTOMER_NAME} AS name FROM customers c WHERE c.customer_id IN ({_ids(sorted(others))})"
        )
    }
    for row in rows:
        row["evidence"] = json.loads(row["evidence"]) if row["evidence"] else []
        row["other_name"] = names.get(int(row["other_id"]))
    return rows


def merges_of(store: Store, customer_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """Applied merges into this customer (newest first), for the panel's undo."""
    return store.rows(
        """SELECT merge_id, survivor_id, absorbed_id, suggestion_id, kind, applied_by, applied_at, status
        FROM merges WHERE survivor_id = ? AND status = ? ORDER BY merge_id DESC LIMIT ?""",
        [customer_id, MergeStatus.APPLIED, limit],
    )


def raw_identity_values(store: Store, identity_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The values of these identities as ingested (not normalized), keyed by identity id."""
    if not identity_ids:
        return {}
    rows = store.rows(
        f"""SELECT identity_id, first_name, last_name, display_name, screen_name, email, phone, company, gender,
               city, postcode, country, CAST(birth_date AS VARCHAR) AS birth_date, external_id
        FROM identities WHERE identity_id IN ({_ids(sorted(set(identity_ids)))})"""
    )
    return {int(r["identity_id"]): r for r in rows}


def bulk_count(store: Store, min_probability: float, band: str | None, channel: str | None) -> int:
    """How many suggestions a bulk approve of this filter would approve at most (related-only ones never)."""
    source, params = pending_filtered(band, channel, min_probability)
    return int(store.scalar(f"SELECT count(*) FROM ({source}) WHERE NOT related_only", params))
