"""The compliance_requests table: export and erasure requests, and every status move of one.

Every status change goes through `update` and is checked against the allowed moves
(`domain.statuses.REQUEST_MOVES`): a move the table does not allow is a bug in the caller and raises
`StatusMoveError` before anything is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from domain.statuses import (
    OPEN_REQUESTS,
    REQUEST_MOVES,
    RUNNABLE_REQUESTS,
    RequestKind,
    RequestStatus,
    may_move,
)
from store.conditions import Conditions
from store.db import Store, StoreError
from store.suggestions import StatusMoveError


def _sql_list(values: Iterable[str]) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values))  # enum values only, never input


_OPEN = _sql_list(OPEN_REQUESTS)
_RUNNABLE = _sql_list(RUNNABLE_REQUESTS)


def _sources(new: RequestStatus) -> str:
    """SQL list of the statuses a request may move to `new` from (itself included)."""
    return _sql_list({new, *(old for old, targets in REQUEST_MOVES.items() if new in targets)})


def insert(store: Store, request: dict[str, Any]) -> int:
    """Record one request (columns of `compliance_requests` without the id); returns its id."""
    request_id = store.next_id("compliance_requests", "request_id")
    row = {"request_id": request_id, **request}
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    store.execute(f"INSERT INTO compliance_requests ({columns}) VALUES ({marks})", list(row.values()))
    return request_id


def get(store: Store, request_id: int) -> dict[str, Any] | None:
    """One request row (counts decoded), or None."""
    rows = store.rows("SELECT * FROM compliance_requests WHERE request_id = ?", [request_id])
    return _decoded(rows[0]) if rows else None


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for column in ("counts", "candidates"):
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    return row


def update(store: Store, request_id: int, **fields: Any) -> None:
    """Set some columns of a request (`counts` is JSON-encoded); a `status` is checked against the moves."""
    if "counts" in fields and fields["counts"] is not None:
        fields["counts"] = json.dumps(fields["counts"], default=str)
    assignments = ", ".join(f"{column} = ?" for column in fields)
    if "status" not in fields:
        store.execute(
            f"UPDATE compliance_requests SET {assignments} WHERE request_id = ?",
            [*fields.values(), request_id],
        )
        return
    new = RequestStatus(fields["status"])
    updated = store.rows(
        f"""UPDATE compliance_requests SET {assignments} WHERE request_id = ? AND status IN ({_sources(new)})
        RETURNING request_id""",
        [*fields.values(), request_id],
    )
    if not updated:
        old = store.scalar("SELECT status FROM compliance_requests WHERE request_id = ?", [request_id])
        if old is None:
            raise StoreError(f"no request {request_id} to move to {new}")
        raise StatusMoveError(f"request {request_id} may not move from {old} to {new}")


def listing(
    store: Store,
    kind: str | None = None,
    status: str | None = None,
    *,
    search: str | None = None,
    overdue_at: datetime | None = None,
) -> list[dict[str, Any]]:
    """Requests, newest first: of one kind and/or status, matching `search` (id, customer, lookup,
    reason, requester), open past their due date at `overdue_at`."""
    where = Conditions()
    where.when(kind, "kind = ?")
    where.when(status, "status = ?")
    if search and search.strip():
        text = search.strip().lower().lstrip("#")
        where.add(
            """(CAST(request_id AS VARCHAR) = ? OR list_contains(customer_ids, TRY_CAST(? AS BIGINT))
            OR CAST(customer_id AS VARCHAR) = ? OR contains(lower(coalesce(lookup_value, '')), ?)
            OR contains(lower(coalesce(reason, '')), ?) OR contains(lower(requested_by), ?))""",
            *[text] * 6,
        )
    if overdue_at is not None:
        where.add(f"status IN ({_OPEN}) AND due_at < ?", overdue_at)
    rows = store.rows(
        f"SELECT * FROM compliance_requests {where.where()} ORDER BY request_id DESC", where.params
    )
    return [_decoded(row) for row in rows]


def runnable(store: Store, kind: str) -> list[dict[str, Any]]:
    """Pending and waiting requests of one kind (what a compliance run carries out), oldest first."""
    return store.rows(
        f"SELECT * FROM compliance_requests WHERE kind = ? AND status IN ({_RUNNABLE}) ORDER BY request_id",
        [kind],
    )


def has_runnable(store: Store, kind: str, customer_id: int) -> bool:
    """Whether a pending or waiting request of this kind exists for the customer."""
    return bool(
        store.scalar(
            f"SELECT count(*) FROM compliance_requests WHERE kind = ? AND customer_id = ? AND status IN ({_RUNNABLE})",
            [kind, customer_id],
        )
    )


def erasing(store: Store) -> list[dict[str, Any]]:
    """Anonymization requests whose data is erased but whose verification has not passed yet, oldest first."""
    return store.rows(
        f"""SELECT * FROM compliance_requests WHERE kind = '{RequestKind.ANONYMIZE}'
        AND status = '{RequestStatus.ERASING}' ORDER BY request_id"""
    )


def of_person(store: Store, customer_ids: Sequence[int], values: Sequence[str] = ()) -> pl.DataFrame:
    """Requests about the person, or looked up by one of its values (e.g. an ambiguous one)."""
    forms = [value.lower() for value in values]
    marks = ", ".join("?" for _ in forms) or "NULL"
    ids = ", ".join(str(int(i)) for i in customer_ids) or "NULL"
    return store.frame(
        f"""SELECT request_id, kind, status, lookup_value, reason, status_reason, bundle_path FROM compliance_requests
        WHERE customer_id IN ({ids}) OR lower(lookup_value) IN ({marks}) ORDER BY request_id""",
        forms or None,
    )


def overwrite(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite columns of requests (request_id and the columns): an erasure scrubs them.

    A changed `status` is checked against the moves (an export whose bundle an erasure deleted moves
    from done to deleted) before anything is written.
    """
    if "status" in columns and frame.height:
        with store.registered("requests_moving", frame.select("request_id", "status")):
            moving = store.rows(
                """SELECT r.request_id, r.status AS old, f.status AS new FROM compliance_requests r
                JOIN requests_moving f ON f.request_id = r.request_id WHERE r.status <> f.status
                ORDER BY 1"""
            )
        for row in moving:
            if not may_move(REQUEST_MOVES, row["old"], RequestStatus(row["new"])):
                raise StatusMoveError(
                    f"request {row['request_id']} may not move from {row['old']} to {row['new']}"
                )
    return store.overwrite("compliance_requests", "request_id", frame, columns)
