"""SQL for agents' decisions on suggestions: status changes, re-pointing, cannot-links, bulk candidates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.db import Store

# The statuses an agent may still decide; `held` is set by apply-merges when it holds a pair back.
DECIDABLE = ("pending", "held")


def get_suggestion_row(store: Store, suggestion_id: int) -> dict[str, Any] | None:
    """The suggestion row as stored (evidence left as JSON text)."""
    rows = store.rows("SELECT * FROM suggestions WHERE suggestion_id = ?", [suggestion_id])
    return rows[0] if rows else None


def suggestion_for_pair(store: Store, customer_l: int, customer_r: int) -> dict[str, Any] | None:
    """The suggestion of a customer pair (l < r), if any."""
    rows = store.rows(
        "SELECT * FROM suggestions WHERE customer_id_l = ? AND customer_id_r = ?", [customer_l, customer_r]
    )
    return rows[0] if rows else None


def set_decision(
    store: Store,
    suggestion_id: int,
    status: str,
    agent: str,
    comment: str | None,
    now: datetime,
    status_reason: str | None = None,
) -> None:
    """Record an agent's decision on a suggestion (`status_reason`: e.g. why it was re-pointed)."""
    store.execute(
        """UPDATE suggestions SET status = ?, decided_by = ?, decided_at = ?, decision_comment = ?,
            status_reason = ?, updated_at = ? WHERE suggestion_id = ?""",
        [status, agent, now, comment, status_reason, now, suggestion_id],
    )


def supersede(store: Store, suggestion_id: int, reason: str, agent: str, now: datetime) -> None:
    """Mark a suggestion superseded with the reason (it can no longer be decided as made)."""
    store.execute(
        """UPDATE suggestions SET status = 'superseded', status_reason = ?, decided_by = ?, decided_at = ?,
            updated_at = ? WHERE suggestion_id = ?""",
        [reason, agent, now, now, suggestion_id],
    )


def repoint(
    store: Store, suggestion_id: int, customer_l: int, customer_r: int, reason: str, now: datetime
) -> None:
    """Point a suggestion at the customers its original ones were merged into."""
    store.execute(
        """UPDATE suggestions SET customer_id_l = ?, customer_id_r = ?, status_reason = ?, updated_at = ?
        WHERE suggestion_id = ?""",
        [customer_l, customer_r, reason, now, suggestion_id],
    )


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
    where = ["s.status = 'pending'"]
    params: list[Any] = []
    if min_probability is not None:
        where.append("s.probability >= ?")
        params.append(min_probability)
    if band:
        where.append("s.band = ?")
        params.append(band)
    elif not include_possible:  # the possible band (below review) is listed only when asked for by name
        where.append("s.band <> 'possible'")
    if not channel:
        return f"SELECT s.* FROM suggestions s WHERE {' AND '.join(where)}", params
    # left joins against the channel's customers, not EXISTS (... IN (l, r)): DuckDB runs that
    # correlated form as a nested loop (minutes at 1M identities), the joins are hash joins
    where.append("(l.customer_id IS NOT NULL OR r.customer_id IS NOT NULL)")
    sql = f"""WITH on_channel AS MATERIALIZED (SELECT DISTINCT customer_id FROM identities WHERE channel = ?)
        SELECT s.* FROM suggestions s
        LEFT JOIN on_channel l ON l.customer_id = s.customer_id_l
        LEFT JOIN on_channel r ON r.customer_id = s.customer_id_r
        WHERE {" AND ".join(where)}"""
    return sql, [channel, *params]


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
               CASE WHEN l.anonymized_at IS NOT NULL THEN 'anonymized' ELSE l.status END AS status_l,
               CASE WHEN r.anonymized_at IS NOT NULL THEN 'anonymized' ELSE r.status END AS status_r,
               l.locked AS locked_l, l.lock_reason AS lock_reason_l, r.locked AS locked_r, r.lock_reason AS lock_reason_r
        FROM ({source}) s LEFT JOIN customers l ON l.customer_id = s.customer_id_l
        LEFT JOIN customers r ON r.customer_id = s.customer_id_r
        ORDER BY s.probability DESC, s.suggestion_id""",
        params,
    )


def approve_many(
    store: Store, rows: list[dict[str, Any]], agent: str, comment: str | None, now: datetime
) -> None:
    """Approve these suggestions and audit each one, in three statements (rows from `bulk_candidates_with_states`)."""
    if not rows:
        return
    import json

    import polars as pl

    ids = pl.DataFrame(
        {"suggestion_id": [int(r["suggestion_id"]) for r in rows]}, schema={"suggestion_id": pl.Int64}
    )
    with store.registered("bulk_approved", ids):
        store.execute(
            """UPDATE suggestions SET status = 'approved', decided_by = ?, decided_at = ?, decision_comment = ?,
                status_reason = NULL, updated_at = ? FROM bulk_approved b
            WHERE suggestions.suggestion_id = b.suggestion_id""",
            [agent, now, comment, now],
        )
    first = store.next_id("audit_log", "audit_id")
    entries = pl.DataFrame(
        {
            "audit_id": [first + i for i in range(len(rows))],
            "subject_id": [str(r["suggestion_id"]) for r in rows],
            "details": [
                json.dumps({"customers": [r["customer_id_l"], r["customer_id_r"]], "probability": r["probability"],
                            "band": r["band"], "comment": comment}, default=str)
                for r in rows
            ],
        },
        schema={"audit_id": pl.Int64, "subject_id": pl.String, "details": pl.String},
    )  # fmt: skip
    with store.registered("bulk_audit", entries):
        store.execute(
            """INSERT INTO audit_log SELECT audit_id, ?, ?, 'suggestion_approve', 'suggestion', subject_id,
                CAST(details AS JSON) FROM bulk_audit""",
            [now, agent],
        )


def identity_by_key(store: Store, channel: str, external_id: str) -> tuple[int, int] | None:
    """(identity_id, customer_id) of channel:external_id (as stored, else case-insensitively), or None."""
    rows = store.rows(
        """SELECT identity_id, customer_id FROM identities WHERE channel = ? AND external_id = ?
        UNION ALL
        SELECT identity_id, customer_id FROM identities
        WHERE channel = ? AND lower(trim(external_id)) = lower(trim(?))
        LIMIT 1""",
        [channel, external_id, channel, external_id],
    )
    return (int(rows[0]["identity_id"]), int(rows[0]["customer_id"])) if rows else None
