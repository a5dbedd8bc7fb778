"""The suggestions table: a match run's pairs, agents' decisions, apply runs' outcomes, and every status move.

A suggestion is one customer pair (customer_id_l < customer_id_r) and keeps its id across runs.
Re-running never duplicates a pending pair, never brings back a rejected pair unless its evidence
changed, and never touches approved or applied pairs. Every status change here is checked against
the allowed moves (`domain.statuses.SUGGESTION_MOVES`): a move the table does not allow is a bug in
the caller and raises `StatusMoveError` before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from domain.statuses import (
    APPLICABLE_SUGGESTIONS,
    HIDDEN_BANDS,
    OPEN_SUGGESTIONS,
    SUGGESTION_MOVES,
    SuggestionStatus,
    may_move,
)
from store.db import Store, StoreError

_S = SuggestionStatus
RUN_COLUMNS = (
    "probability",
    "match_weight",
    "band",
    "related_only",
    "reason",
    "rule",
    "evidence",
    "evidence_hash",
    "identity_id_l",
    "identity_id_r",
)


class StatusMoveError(StoreError):
    """A status change the allowed-moves table does not allow (a bug in the caller, not bad input)."""


def _allowed(old: str, new: str) -> None:
    if not may_move(SUGGESTION_MOVES, old, new):
        raise StatusMoveError(f"a suggestion may not move from {old} to {new}")


def _sources(new: SuggestionStatus) -> str:
    """SQL list of the statuses a suggestion may move to `new` from (itself included)."""
    return _sql_list({new, *(old for old, targets in SUGGESTION_MOVES.items() if new in targets)})


def _sql_list(statuses: Iterable[str]) -> str:
    return ", ".join(f"'{status}'" for status in sorted(statuses))  # enum values only, never input


_OPEN = _sql_list(OPEN_SUGGESTIONS)
# every allowed move as 'old>new', for checking a frame of moves in SQL
_MOVES = _sql_list(f"{old}>{new}" for old, targets in SUGGESTION_MOVES.items() for new in targets)
_HIDDEN = _sql_list(HIDDEN_BANDS)


def _moved(store: Store, suggestion_id: int, new: str, updated: list[dict[str, Any]]) -> None:
    """Raise when a guarded single-row move updated nothing: no such suggestion, or a move not allowed."""
    if updated:
        return
    old = store.scalar("SELECT status FROM suggestions WHERE suggestion_id = ?", [suggestion_id])
    if old is None:
        raise StoreError(f"no suggestion {suggestion_id} to move to {new}")
    raise StatusMoveError(f"suggestion {suggestion_id} may not move from {old} to {new}")


# -- one suggestion ------------------------------------------------------------------------------
def get(store: Store, suggestion_id: int) -> dict[str, Any] | None:
    """The suggestion row as stored (evidence left as JSON text), or None."""
    rows = store.rows("SELECT * FROM suggestions WHERE suggestion_id = ?", [suggestion_id])
    return rows[0] if rows else None


def for_pair(
    store: Store, customer_a: int, customer_b: int, statuses: Iterable[str] | None = None
) -> dict[str, Any] | None:
    """The (oldest) suggestion of a customer pair in either order, optionally only of these statuses."""
    low, high = sorted((int(customer_a), int(customer_b)))
    only = (
        f" AND status IN ({_sql_list(SuggestionStatus(s) for s in statuses)})" if statuses is not None else ""
    )
    rows = store.rows(
        f"""SELECT * FROM suggestions WHERE customer_id_l = ? AND customer_id_r = ?{only}
        ORDER BY suggestion_id LIMIT 1""",
        [low, high],
    )
    return rows[0] if rows else None


# -- a match run's pairs ---------------------------------------------------------------------------
def _new_evidence(old: str | None, new: str | None) -> str:
    """Which fields' values or levels differ between two evidence lists, for a status reason."""
    before = {e["field"]: e for e in json.loads(old or "[]")}
    changed = []
    for item in json.loads(new or "[]"):
        prior = before.get(item["field"])
        if prior is None or (prior.get("value_l"), prior.get("value_r"), prior.get("level")) != (
            item.get("value_l"),
            item.get("value_r"),
            item.get("level"),
        ):
            changed.append(f"{item['field']} {item.get('level')}")
    return ", ".join(changed) or "evidence changed"


def save_run_pairs(
    store: Store, incoming: pl.DataFrame, run_id: int, mode: str, now: datetime
) -> tuple[dict[str, int], int]:
    """Upsert a match run's pairs (inside the run's transaction): per action how many, and how many superseded.

    New pairs are added pending, pending ones refreshed, rejected ones with new evidence reopened;
    decided pairs are kept. A full run supersedes the pending pairs it no longer suggests.
    """
    with store.registered("incoming_suggestions", incoming):
        store.execute(
            f"""CREATE OR REPLACE TEMP TABLE sstage AS
            SELECT n.*, s.suggestion_id, s.status AS old_status, s.evidence_hash AS old_hash,
                   CAST(s.evidence AS VARCHAR) AS old_evidence,
                   CASE WHEN s.suggestion_id IS NULL THEN 'new'
                        WHEN s.status = '{_S.PENDING}' AND s.evidence_hash IS DISTINCT FROM n.evidence_hash
                            THEN 'updated'
                        WHEN s.status = '{_S.PENDING}' THEN 'refreshed'
                        WHEN s.status = '{_S.REJECTED}' AND s.evidence_hash IS DISTINCT FROM n.evidence_hash
                            THEN 'reopened'
                        ELSE 'kept' END AS action
            FROM incoming_suggestions n
            LEFT JOIN suggestions s ON s.customer_id_l = n.customer_id_l AND s.customer_id_r = n.customer_id_r"""
        )
        actions = {
            r["action"]: r["n"] for r in store.rows("SELECT action, count(*) AS n FROM sstage GROUP BY 1")
        }
        assignments = ", ".join(f"{c} = t.{c}" for c in RUN_COLUMNS)
        store.execute(
            f"""UPDATE suggestions SET {assignments}, updated_run_id = ?, updated_at = ?
            FROM sstage t WHERE t.action IN ('updated', 'refreshed')
              AND suggestions.suggestion_id = t.suggestion_id""",
            [run_id, now],
        )
        reopened = store.rows(
            "SELECT suggestion_id, old_evidence, evidence FROM sstage WHERE action = 'reopened'"
        )
        _allowed(_S.REJECTED, _S.PENDING)
        for row in reopened:
            reason = f"reopened by match run {run_id}: new evidence: {_new_evidence(row['old_evidence'], row['evidence'])}"
            store.execute(
                f"""UPDATE suggestions SET {assignments}, status = '{_S.PENDING}', status_reason = ?,
                    decided_by = NULL, decided_at = NULL, updated_run_id = ?, updated_at = ?
                FROM sstage t WHERE t.suggestion_id = ? AND suggestions.suggestion_id = t.suggestion_id""",
                [reason, run_id, now, row["suggestion_id"]],
            )
        first = store.next_id("suggestions", "suggestion_id")
        columns = ", ".join(RUN_COLUMNS)
        store.execute(
            f"""INSERT INTO suggestions (suggestion_id, customer_id_l, customer_id_r, {columns}, status,
                created_run_id, updated_run_id, created_at, updated_at)
            SELECT ? + row_number() OVER (ORDER BY customer_id_l, customer_id_r) - 1, customer_id_l,
                   customer_id_r, {columns}, '{_S.PENDING}', ?, ?, ?, ?
            FROM sstage WHERE action = 'new'""",
            [first, run_id, run_id, now, now],
        )
        superseded = 0
        if mode == "full":
            _allowed(_S.PENDING, _S.SUPERSEDED)
            # a full run sees every pair: a pending pair it no longer suggests has lost its evidence
            superseded = int(
                store.scalar(
                    f"""SELECT count(*) FROM suggestions s WHERE s.status = '{_S.PENDING}' AND NOT EXISTS (
                    SELECT 1 FROM sstage t WHERE t.customer_id_l = s.customer_id_l
                                             AND t.customer_id_r = s.customer_id_r)"""
                )
            )
            store.execute(
                f"""UPDATE suggestions SET status = '{_S.SUPERSEDED}', updated_run_id = ?, updated_at = ?,
                    status_reason = 'no longer suggested by full match run ' || ? ||
                                    ': its evidence changed or a customer is locked, merged or anonymized'
                WHERE status = '{_S.PENDING}' AND NOT EXISTS (
                    SELECT 1 FROM sstage t WHERE t.customer_id_l = suggestions.customer_id_l
                                             AND t.customer_id_r = suggestions.customer_id_r)""",
                [run_id, now, run_id],
            )
        store.execute("DROP TABLE sstage")
    return actions, superseded


# -- decisions and moves of one suggestion ---------------------------------------------------------
def decide(
    store: Store, suggestion_id: int, status: SuggestionStatus, agent: str, comment: str | None, now: datetime,
    status_reason: str | None = None,
) -> None:  # fmt: skip
    """Record an agent's decision (approved or rejected; `status_reason`: e.g. why it was re-pointed)."""
    updated = store.rows(
        f"""UPDATE suggestions SET status = ?, decided_by = ?, decided_at = ?, decision_comment = ?,
            status_reason = ?, updated_at = ? WHERE suggestion_id = ? AND status IN ({_sources(status)})
        RETURNING suggestion_id""",
        [status, agent, now, comment, status_reason, now, suggestion_id],
    )
    _moved(store, suggestion_id, status, updated)


def supersede(store: Store, suggestion_id: int, reason: str, agent: str, now: datetime) -> None:
    """Mark a suggestion superseded by an agent's attempt, with the reason (it can no longer be decided as made)."""
    updated = store.rows(
        f"""UPDATE suggestions SET status = '{_S.SUPERSEDED}', status_reason = ?, decided_by = ?, decided_at = ?,
            updated_at = ? WHERE suggestion_id = ? AND status IN ({_sources(_S.SUPERSEDED)})
        RETURNING suggestion_id""",
        [reason, agent, now, now, suggestion_id],
    )
    _moved(store, suggestion_id, _S.SUPERSEDED, updated)


def move(
    store: Store, suggestion_id: int, status: SuggestionStatus, reason: str | None, now: datetime,
    decided_by: str | None = None,
) -> None:  # fmt: skip
    """Change a suggestion's status with the reason (and who decided, when given)."""
    decider = ", decided_by = ?, decided_at = ?" if decided_by is not None else ""
    params: list[Any] = [
        status,
        reason,
        now,
        *([decided_by, now] if decided_by is not None else []),
        suggestion_id,
    ]
    updated = store.rows(
        f"""UPDATE suggestions SET status = ?, status_reason = ?, updated_at = ?{decider}
        WHERE suggestion_id = ? AND status IN ({_sources(status)}) RETURNING suggestion_id""",
        params,
    )
    _moved(store, suggestion_id, status, updated)


def repoint(
    store: Store, suggestion_id: int, customer_l: int, customer_r: int, reason: str, now: datetime
) -> None:
    """Point a suggestion at the customers its original ones were merged into."""
    store.execute(
        """UPDATE suggestions SET customer_id_l = ?, customer_id_r = ?, status_reason = ?, updated_at = ?
        WHERE suggestion_id = ?""",
        [customer_l, customer_r, reason, now, suggestion_id],
    )


def repoint_pending(
    store: Store, absorbed: int, survivor: int, merge_id: int, now: datetime
) -> dict[str, int]:
    """Keep the review queue right after a merge: pending pairs of the absorbed customer move to the survivor.

    A pair that would then join the survivor with itself, or repeat a pair that already has a
    suggestion, is superseded with the reason instead.
    """
    pending = store.rows(
        f"""SELECT suggestion_id, customer_id_l, customer_id_r FROM suggestions
        WHERE status = '{_S.PENDING}' AND (customer_id_l = ? OR customer_id_r = ?) ORDER BY suggestion_id""",
        [absorbed, absorbed],
    )
    counts = {"repointed": 0, "superseded": 0}
    for row in pending:
        other = row["customer_id_r"] if row["customer_id_l"] == absorbed else row["customer_id_l"]
        low, high = sorted((survivor, other))
        if low == high:
            reason = (
                f"customers {row['customer_id_l']} and {row['customer_id_r']} were merged (merge {merge_id})"
            )
            move(store, row["suggestion_id"], _S.SUPERSEDED, reason, now)
            counts["superseded"] += 1
            continue
        twin = store.scalar(
            "SELECT min(suggestion_id) FROM suggestions WHERE customer_id_l = ? AND customer_id_r = ?",
            [low, high],
        )
        if twin is not None:
            reason = f"after merge {merge_id} it repeats suggestion {twin} ({low} and {high})"
            move(store, row["suggestion_id"], _S.SUPERSEDED, reason, now)
            counts["superseded"] += 1
            continue
        repoint(store, row["suggestion_id"], low, high,
                f"re-pointed from customer {absorbed} to {survivor} by merge {merge_id}", now)  # fmt: skip
        counts["repointed"] += 1
    return counts


def supersede_open_of(store: Store, customer_ids: Sequence[int], reason: str, now: datetime) -> int:
    """Mark the open (pending, approved, held) suggestions of these customers superseded; returns how many."""
    for old in OPEN_SUGGESTIONS:
        _allowed(old, _S.SUPERSEDED)
    ids = ", ".join(str(int(i)) for i in customer_ids) or "NULL"
    where = f"status IN ({_OPEN}) AND (customer_id_l IN ({ids}) OR customer_id_r IN ({ids}))"
    count = int(store.scalar(f"SELECT count(*) FROM suggestions WHERE {where}"))
    if count:
        store.execute(
            f"UPDATE suggestions SET status = '{_S.SUPERSEDED}', status_reason = ?, updated_at = ? WHERE {where}",
            [reason, now],
        )
    return count


# -- many suggestions at once: bulk approve and apply runs (the caller holds the transaction) -----
def _ids_frame(ids: Sequence[int]) -> pl.DataFrame:
    return pl.DataFrame({"id": list(ids)}, schema={"id": pl.Int64})


def runnable(store: Store) -> list[dict[str, Any]]:
    """Approved and held suggestions in suggestion order, as an apply run takes them."""
    return store.rows(
        f"""SELECT suggestion_id, customer_id_l, customer_id_r, status, status_reason, decided_by
        FROM suggestions WHERE status IN ({_sql_list(APPLICABLE_SUGGESTIONS)}) ORDER BY suggestion_id"""
    )


def approve_many(
    store: Store, rows: list[dict[str, Any]], agent: str, comment: str | None, now: datetime
) -> None:
    """Approve these suggestions and audit each one, in three statements (rows from `bulk_candidates_with_states`)."""
    if not rows:
        return
    ids = pl.DataFrame(
        {"suggestion_id": [int(r["suggestion_id"]) for r in rows]}, schema={"suggestion_id": pl.Int64}
    )
    with store.registered("bulk_approved", ids):
        updated = store.rows(
            f"""UPDATE suggestions SET status = '{_S.APPROVED}', decided_by = ?, decided_at = ?,
                decision_comment = ?, status_reason = NULL, updated_at = ? FROM bulk_approved b
            WHERE suggestions.suggestion_id = b.suggestion_id AND suggestions.status IN ({_sources(_S.APPROVED)})
            RETURNING suggestions.suggestion_id""",
            [agent, now, comment, now],
        )
    if len(updated) != ids.height:  # raising rolls the caller's transaction back: nothing is half approved
        missed = sorted(set(ids["suggestion_id"].to_list()) - {int(r["suggestion_id"]) for r in updated})
        _moved(store, missed[0], _S.APPROVED, [])
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


def move_many(store: Store, outcomes: pl.DataFrame, now: datetime) -> None:
    """Set status and status_reason of suggestions (suggestion_id, status, status_reason) in one statement."""
    if outcomes.height == 0:
        return
    with store.registered("run_outcomes", outcomes.select("suggestion_id", "status", "status_reason")):
        refused = store.rows(
            f"""SELECT o.suggestion_id, s.status AS old, o.status AS new FROM run_outcomes o
            JOIN suggestions s ON s.suggestion_id = o.suggestion_id
            WHERE s.status <> o.status AND s.status || '>' || o.status NOT IN ({_MOVES}) LIMIT 1"""
        )
        if refused:
            raise StatusMoveError(
                f"suggestion {refused[0]['suggestion_id']} may not move from {refused[0]['old']} to {refused[0]['new']}"
            )
        store.execute(
            """UPDATE suggestions SET status = o.status, status_reason = o.status_reason, updated_at = ?
            FROM run_outcomes o WHERE suggestions.suggestion_id = o.suggestion_id""",
            [now],
        )


def pending_of(store: Store, ids: Sequence[int]) -> pl.DataFrame:
    """Pending suggestions with either customer among these ids."""
    with store.registered("run_absorbed", _ids_frame(ids)):
        return store.frame(
            f"""SELECT s.suggestion_id, s.customer_id_l, s.customer_id_r FROM suggestions s
            WHERE s.status = '{_S.PENDING}' AND (s.customer_id_l IN (SELECT id FROM run_absorbed)
                                            OR s.customer_id_r IN (SELECT id FROM run_absorbed))
            ORDER BY s.suggestion_id"""
        )


def existing_pairs(store: Store, pairs: pl.DataFrame, moving: Sequence[int]) -> pl.DataFrame:
    """For these (low, high) pairs, the lowest suggestion id already on each, among suggestions not moving."""
    if pairs.height == 0:
        return pl.DataFrame(schema={"low": pl.Int64, "high": pl.Int64, "twin": pl.Int64})
    with (
        store.registered("run_pairs", pairs.select("low", "high").unique()),
        store.registered("run_moving", _ids_frame(moving)),
    ):
        return store.frame(
            """SELECT p.low, p.high, min(s.suggestion_id) AS twin FROM run_pairs p
            JOIN suggestions s ON s.customer_id_l = p.low AND s.customer_id_r = p.high
            WHERE s.suggestion_id NOT IN (SELECT id FROM run_moving) GROUP BY p.low, p.high"""
        )


def repoint_many(store: Store, moved: pl.DataFrame, now: datetime) -> None:
    """Point pending suggestions at their customers' survivors (suggestion_id, low, high, status_reason)."""
    if moved.height == 0:
        return
    with store.registered("run_repoint", moved.select("suggestion_id", "low", "high", "status_reason")):
        store.execute(
            """UPDATE suggestions SET customer_id_l = r.low, customer_id_r = r.high, status_reason = r.status_reason,
                updated_at = ? FROM run_repoint r WHERE suggestions.suggestion_id = r.suggestion_id""",
            [now],
        )


def overwrite_texts(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite text columns of suggestions (suggestion_id and the columns): an erasure scrubs them.

    Never the status: every status change is a checked move (`move`, `move_many`).
    """
    if "status" in columns:
        raise StatusMoveError("a suggestion's status changes only by a move")
    return store.overwrite("suggestions", "suggestion_id", frame, columns)
