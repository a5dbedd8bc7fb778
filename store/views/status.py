"""Read-only SQL for `idres status` (counts, batches, warnings) and the quarantine listing."""

from __future__ import annotations

import json
from typing import Any

from domain.statuses import CustomerStatus
from store.db import Store

TABLES = ("customers", "identities", "conversations", "messages", "comments", "ingest_batches", "quarantine")


def status(store: Store, recent_batches: int = 10) -> dict[str, Any]:
    """Counts per table and channel, the last batches, and the quarantine size."""
    counts = {table: int(store.scalar(f"SELECT count(*) FROM {table}")) for table in TABLES}
    counts["active_customers"] = int(
        store.scalar(f"SELECT count(*) FROM customers WHERE status = '{CustomerStatus.ACTIVE}'")
    )
    per_channel = store.rows(
        """SELECT i.channel, count(*) AS identities, count(*) FILTER (WHERE i.match_pending) AS match_pending,
                  (SELECT count(*) FROM conversations c WHERE c.channel = i.channel) AS conversations
           FROM identities i GROUP BY 1 ORDER BY 1"""
    )
    batches = store.rows(
        """SELECT batch_id, kind, file_path, status, rows_read, rows_loaded, rows_new, rows_updated,
                  rows_quarantined, finished_at, data_docs_path,
                  CAST(json_extract(validation, '$.warnings') AS VARCHAR) AS warnings
           FROM ingest_batches ORDER BY batch_id DESC LIMIT ?""",
        [recent_batches],
    )
    for batch in batches:
        batch["warnings"] = json.loads(batch["warnings"]) if batch["warnings"] else {}
    # a row failing several rules has its reasons joined by "; ": count each reason
    quarantine = store.rows(
        """SELECT kind, reason, count(*) AS rows
           FROM (SELECT kind, unnest(string_split(reason, '; ')) AS reason FROM quarantine)
           GROUP BY ALL ORDER BY rows DESC, reason LIMIT 20"""
    )
    return {
        "store": str(store.path),
        "schema_version": store.current_version(),
        "counts": counts,
        "channels": per_channel,
        "recent_batches": batches,
        "quarantine_by_reason": quarantine,
        "warnings_by_field": warnings_by_field(store),
    }


def warnings_by_field(store: Store) -> list[dict[str, Any]]:
    """Loaded rows with a bad optional value, per kind and field, over every batch."""
    rows = store.rows(
        """SELECT kind, CAST(json_extract(validation, '$.warnings') AS VARCHAR) AS warnings
           FROM ingest_batches WHERE validation IS NOT NULL"""
    )
    totals: dict[tuple[str, str], int] = {}
    for row in rows:
        for field, count in json.loads(row["warnings"] or "{}").items():
            totals[(row["kind"], field)] = totals.get((row["kind"], field), 0) + int(count)
    ordered = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return [{"kind": kind, "field": field, "rows": count} for (kind, field), count in ordered]


def quarantine_count(store: Store, batch_id: int | None = None) -> int:
    """Quarantined rows, optionally of one batch."""
    if batch_id is None:
        return int(store.scalar("SELECT count(*) FROM quarantine"))
    return int(store.scalar("SELECT count(*) FROM quarantine WHERE batch_id = ?", [batch_id]))


def quarantine_rows(store: Store, batch_id: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """Quarantined rows, newest first, optionally of one batch."""
    where = "WHERE batch_id = ?" if batch_id is not None else ""
    params: list[Any] = [batch_id] if batch_id is not None else []
    return store.rows(
        f"""SELECT quarantine_id, batch_id, kind, file_path, row_number, expectation, reason, raw_row,
                   quarantined_at FROM quarantine {where}
            ORDER BY quarantine_id DESC LIMIT ?""",
        [*params, limit],
    )
