"""Read-only SQL behind review commands: `idres suggestions list/show`, the queue filter, bulk-approve candidates."""

from __future__ import annotations

import json
from typing import Any

from domain.statuses import HIDDEN_BANDS, CustomerStatus, SuggestionStatus
from store import suggestions
from store.conditions import Conditions
from store.db import Store

_HIDDEN = ", ".join(f"'{band}'" for band in sorted(HIDDEN_BANDS))


# Queue orders. "informative" (matching.learning.informative_first, the same order in SQL): the
# most uncertain pair (|match weight| smallest: probability nearest 0.5) of each blocking rule in
# turn, so the first decisions teach the model the most and cover every rule; it includes the
# possible band, where the uncertain pairs are. The default stays most probable first.
ORDERS = ("probable", "informative")
PROBABLE_ORDER = "probability DESC, suggestion_id"
INFORMATIVE_ORDER = (
    "row_number() OVER (PARTITION BY coalesce(rule, '') ORDER BY abs(match_weight), suggestion_id), "
    "abs(match_weight), suggestion_id"
)


def order_clause(order: str = "probable") -> str:
    """The ORDER BY expression of a queue order (probable or informative)."""
    return INFORMATIVE_ORDER if order == "informative" else PROBABLE_ORDER


def list_suggestions(
    store: Store,
    status: str | None = None,
    band: str | None = None,
    limit: int = 100,
    order: str = "probable",
) -> list[dict[str, Any]]:
    """Suggestions, most probable (or most informative) first, optionally of one status and/or band
    (possible: only by name, or in the informative order)."""
    where = Conditions()
    where.when(status, "status = ?")
    where.when(band, "band = ?")
    if not band and order != "informative":
        where.add(f"band NOT IN ({_HIDDEN})")
    return store.rows(
        f"""SELECT suggestion_id, customer_id_l, customer_id_r, probability, match_weight, band, status,
            related_only, reason, rule, updated_run_id, updated_at, status_reason
        FROM suggestions {where.where()} ORDER BY {order_clause(order)} LIMIT ?""",
        [*where.params, int(limit)],
    )


def identities_of(store: Store, customer_id: int) -> list[dict[str, Any]]:
    """A customer's identities (channel, external id, names, e-mail, phone), oldest first."""
    return store.rows(
        """SELECT identity_id, channel, external_id, display_name, first_name, last_name,
            email_norm AS email, phone_e164 AS phone
        FROM identities WHERE customer_id = ? ORDER BY identity_id""",
        [customer_id],
    )


def detail(store: Store, suggestion_id: int) -> dict[str, Any] | None:
    """One suggestion with its evidence parsed and both customers' identities (`idres suggestions show`)."""
    record = suggestions.get(store, suggestion_id)
    if record is None:
        return None
    record["evidence"] = json.loads(record["evidence"]) if record["evidence"] else []
    record["identities_l"] = identities_of(store, record["customer_id_l"])
    record["identities_r"] = identities_of(store, record["customer_id_r"])
    return record


def pending_filtered(
    band: str | None = None,
    channel: str | None = None,
    min_probability: float | None = None,
    include_possible: bool = False,
) -> tuple[str, list[Any]]:
    """SQL (and its parameters) selecting pending suggestions of a band, at a probability, on a channel.

    A pair is on a channel when either customer has an identity there (the queue filter and bulk
    approve read it the same way).
    """
    where = [f"s.status = '{SuggestionStatus.PENDING}'"]
    params: list[Any] = []
    if min_probability is not None:
        where.append("s.probability >= ?")
        params.append(min_probability)
    if band:
        where.append("s.band = ?")
        params.append(band)
    elif not include_possible:  # the possible band (below review) is listed only when asked for by name
        where.append(f"s.band NOT IN ({_HIDDEN})")
    pending = " AND ".join(where)
    if not channel:
        return f"SELECT s.* FROM suggestions s WHERE {pending}", params
    # the pending pairs' customer ids (both sides, unioned) semi-joined to the channel's identities:
    # no DISTINCT over the channel's customers and no nested loop of EXISTS (... IN (l, r)), which
    # DuckDB runs for minutes at 1M identities; half the time of joining a DISTINCT twice
    sql = f"""SELECT s.* FROM suggestions s WHERE {pending} AND s.suggestion_id IN (
            SELECT e.suggestion_id FROM (
                SELECT s.suggestion_id, s.customer_id_l AS customer_id FROM suggestions s WHERE {pending}
                UNION ALL SELECT s.suggestion_id, s.customer_id_r FROM suggestions s WHERE {pending}) e
            SEMI JOIN identities i ON i.customer_id = e.customer_id AND i.channel = ?)"""
    return sql, [*params, *params, *params, channel]


def bulk_candidates(
    store: Store, min_probability: float, band: str | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    """Pending suggestions with probability >= min_probability (optionally of a band / touching a channel)."""
    source, params = pending_filtered(band, channel, min_probability)
    return store.rows(f"SELECT * FROM ({source}) ORDER BY probability DESC, suggestion_id", params)


def bulk_candidates_with_states(
    store: Store, min_probability: float, band: str | None = None, channel: str | None = None
) -> list[dict[str, Any]]:
    """Bulk candidates with both customers' status and lock (one query; missing customers read as None)."""
    source, params = pending_filtered(band, channel, min_probability)
    return store.rows(
        f"""SELECT s.suggestion_id, s.customer_id_l, s.customer_id_r, s.probability, s.band, s.related_only,
               CASE WHEN l.anonymized_at IS NOT NULL THEN '{CustomerStatus.ANONYMIZED}' ELSE l.status END AS status_l,
               CASE WHEN r.anonymized_at IS NOT NULL THEN '{CustomerStatus.ANONYMIZED}' ELSE r.status END AS status_r,
               l.locked AS locked_l, l.lock_reason AS lock_reason_l, r.locked AS locked_r, r.lock_reason AS lock_reason_r
        FROM ({source}) s LEFT JOIN customers l ON l.customer_id = s.customer_id_l
        LEFT JOIN customers r ON r.customer_id = s.customer_id_r
        ORDER BY s.probability DESC, s.suggestion_id""",
        params,
    )
