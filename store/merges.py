"""SQL for merging customers: moving identities and comments, redirects, before-images, undo, runs.

Callers (review/merging.py) hold the transaction, so a merge, an undo or a whole apply run is all
or nothing. Following redirects is `store.redirects`; cannot-links are `store.cannot_links`; the
suggestion a merge settles is moved by `store.suggestions`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import polars as pl

from domain.columns import PROFILE_SCALAR_FIELDS
from domain.statuses import CustomerStatus, MergeStatus
from store.db import Store

# birth_date is offered in its parsed form (birth_date_norm), below
_PROFILE_SCALARS = tuple(field for field in PROFILE_SCALAR_FIELDS if field != "birth_date")


# -- customers ----------------------------------------------------------------------------------
def customer_row(store: Store, customer_id: int) -> dict[str, Any] | None:
    """The full customers row (None when there is no such customer)."""
    rows = store.rows("SELECT * FROM customers WHERE customer_id = ?", [customer_id])
    return rows[0] if rows else None


def identity_ids(store: Store, customer_id: int) -> list[int]:
    """Ids of the identities a customer holds now."""
    rows = store.rows(
        "SELECT identity_id FROM identities WHERE customer_id = ? ORDER BY identity_id", [customer_id]
    )
    return [int(row["identity_id"]) for row in rows]


def comment_ids(store: Store, customer_id: int) -> list[int]:
    """Ids of the comments written on a customer (conversation comments follow their conversation)."""
    rows = store.rows(
        "SELECT comment_id FROM comments WHERE customer_id = ? ORDER BY comment_id", [customer_id]
    )
    return [int(row["comment_id"]) for row in rows]


def move_identities(store: Store, from_customer: int, to_customer: int) -> None:
    """Give every identity of one customer to another (conversations and messages follow them)."""
    store.execute("UPDATE identities SET customer_id = ? WHERE customer_id = ?", [to_customer, from_customer])


def move_comments(store: Store, from_customer: int, to_customer: int) -> None:
    """Re-attach a customer's comments to another customer."""
    store.execute("UPDATE comments SET customer_id = ? WHERE customer_id = ?", [to_customer, from_customer])


def take_back(store: Store, table: str, id_column: str, ids: Sequence[int], holder: int, owner: int) -> int:
    """Move the listed rows of `table` that `holder` has now back to `owner` (undo of a move)."""
    if table not in ("identities", "comments"):
        raise ValueError(f"take_back moves identities or comments, not {table}")
    if not ids:
        return 0
    frame = pl.DataFrame({"row_id": list(ids)}, schema={"row_id": pl.Int64})
    with store.registered("taken_back", frame):
        where = f"customer_id = ? AND {id_column} IN (SELECT row_id FROM taken_back)"
        moved = int(store.scalar(f"SELECT count(*) FROM {table} WHERE {where}", [holder]))
        store.execute(f"UPDATE {table} SET customer_id = ? WHERE {where}", [owner, holder])
    return moved


def redirect(store: Store, absorbed: int, survivor: int, now: datetime) -> None:
    """Mark a customer as merged away: its id now redirects to the survivor."""
    store.execute(
        f"UPDATE customers SET status = '{CustomerStatus.MERGED}', merged_into = ?, updated_at = ? WHERE customer_id = ?",
        [survivor, now, absorbed],
    )


def identity_profile_values(store: Store, customer_ids: Iterable[int]) -> pl.DataFrame:
    """Per identity of these customers, the profile value it offers for each field (survivorship input)."""
    scalars = ", ".join(f"nullif(trim(i.{column}), '') AS {column}" for column in _PROFILE_SCALARS)
    # ids are ints (int() below), so inlining them is safe; a parameter would make polars copy the rows
    ids = ", ".join(str(int(c)) for c in sorted(set(customer_ids))) or "NULL"
    return store.frame(
        f"""SELECT i.customer_id, i.identity_id, i.channel, i.updated_at, {scalars},
            CAST(i.birth_date_norm AS VARCHAR) AS birth_date,
            CASE WHEN i.email_valid THEN i.email_norm END AS emails,
            CASE WHEN i.phone_valid THEN i.phone_e164 END AS phones
        FROM identities i WHERE i.customer_id IN ({ids})
        ORDER BY i.customer_id, i.identity_id"""
    )


def write_profile(
    store: Store,
    customer_id: int,
    profile: dict[str, Any],
    sources: dict[str, Any],
    agent_edited: list[str],
    now: datetime,
) -> None:
    """Set a customer's profile columns, profile_sources and agent_edited fields."""
    columns = list(profile)
    assignments = ", ".join(f"{column} = ?" for column in columns)
    store.execute(
        f"""UPDATE customers SET {assignments}, profile_sources = CAST(? AS JSON), agent_edited = ?,
            updated_at = ? WHERE customer_id = ?""",
        [*[profile[c] for c in columns], json.dumps(sources, sort_keys=True), agent_edited, now, customer_id],
    )


def _customer_types(store: Store) -> dict[str, str]:
    return {row["column_name"]: row["column_type"] for row in store.rows("DESCRIBE customers")}


def restore_customer(store: Store, image: dict[str, Any]) -> None:
    """Write a customer row back exactly as a before-image (JSON-decoded) holds it."""
    types = _customer_types(store)
    columns = [column for column in image if column != "customer_id" and column in types]
    assignments = ", ".join(f"{column} = CAST(? AS {types[column]})" for column in columns)
    store.execute(
        f"UPDATE customers SET {assignments} WHERE customer_id = ?",
        [*[image[c] for c in columns], image["customer_id"]],
    )


def _json_value(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    return str(value)  # timestamps and dates, as json.dumps(default=str) writes them


def image_of(row: dict[str, Any]) -> dict[str, Any]:
    """A customer row as it is kept in a before-image (JSON-safe, compared by value).

    The same values as a JSON round trip with `default=str`, without one (apply runs take thousands).
    """
    image: dict[str, Any] = {}
    for key, value in row.items():
        kind = type(value)
        if value is None or kind in _PLAIN:
            image[key] = value
        elif kind is list and (not value or type(value[0]) is str):
            image[key] = list(value)  # the VARCHAR[] columns (emails, phones, agent_edited)
        else:
            image[key] = _json_value(value)
    return image


_PLAIN = (str, int, float, bool)


# -- merges -------------------------------------------------------------------------------------
def insert_merge(store: Store, merge: dict[str, Any]) -> int:
    """Record one applied merge (one absorbed customer); returns its merge_id."""
    merge_id = store.next_id("merges", "merge_id")
    row = {**merge, "merge_id": merge_id, "before_image": json.dumps(merge["before_image"], default=str)}
    store.execute(
        f"INSERT INTO merges ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
    )
    return merge_id


def get_merge(store: Store, merge_id: int) -> dict[str, Any] | None:
    """One merges row with its before-image decoded."""
    rows = store.rows("SELECT * FROM merges WHERE merge_id = ?", [merge_id])
    if not rows:
        return None
    row = rows[0]
    row["before_image"] = json.loads(row["before_image"])
    return row


def mark_undone(store: Store, merge_id: int, agent: str, comment: str | None, now: datetime) -> None:
    """Mark a merge as undone by an agent."""
    store.execute(
        "UPDATE merges SET status = ?, undone_by = ?, undone_at = ?, undo_comment = ? WHERE merge_id = ?",
        [MergeStatus.UNDONE, agent, now, comment, merge_id],
    )


def merges_touching_since(store: Store, customer_ids: Iterable[int], after_merge_id: int) -> list[int]:
    """Applied merges after `after_merge_id` whose survivor or absorbed customer is one of these."""
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = store.rows(
        f"""SELECT merge_id FROM merges WHERE merge_id > ? AND status = ?
            AND (survivor_id IN ({marks}) OR absorbed_id IN ({marks})) ORDER BY merge_id""",
        [after_merge_id, MergeStatus.APPLIED, *ids, *ids],
    )
    return [int(row["merge_id"]) for row in rows]


def list_merges(
    store: Store, customer_ids: Iterable[int] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Merges newest first (without before-images), optionally those involving these customers."""
    where, params = "", []
    if customer_ids is not None:
        ids = sorted(set(customer_ids)) or [-1]
        marks = ", ".join("?" for _ in ids)
        where = f"WHERE survivor_id IN ({marks}) OR absorbed_id IN ({marks})"
        params = [*ids, *ids]
    return store.rows(
        f"""SELECT merge_id, survivor_id, absorbed_id, suggestion_id, kind, requested_by, applied_by,
            apply_run_id, applied_at, status, undone_by, undone_at, undo_comment
        FROM merges {where} ORDER BY merge_id DESC LIMIT ?""",
        [*params, int(limit)],
    )


# -- runs ---------------------------------------------------------------------------------------
def insert_run(store: Store, actor: str, started: datetime) -> int:
    """Open an apply run row (inside the run's transaction); returns its id."""
    run_id = store.next_id("merge_runs", "apply_run_id")
    store.execute(
        "INSERT INTO merge_runs (apply_run_id, actor, status, started_at) VALUES (?, ?, 'running', ?)",
        [run_id, actor, started],
    )
    return run_id


def finish_run(
    store: Store, run_id: int, counts: dict[str, int], details: dict[str, Any], now: datetime
) -> None:
    """Close an apply run with its counts and the per-suggestion outcomes."""
    store.execute(
        """UPDATE merge_runs SET status = 'succeeded', finished_at = ?, approved_seen = ?, merges_applied = ?,
            held_back = ?, superseded = ?, details = CAST(? AS JSON) WHERE apply_run_id = ?""",
        [now, counts["approved_seen"], counts["merges_applied"], counts["held_back"], counts["superseded"],
         json.dumps(details, default=str), run_id],
    )  # fmt: skip


def overwrite(store: Store, frame: pl.DataFrame, columns: Sequence[str]) -> int:
    """Overwrite columns of merges (merge_id and the columns): an erasure scrubs before-images and comments."""
    return store.overwrite("merges", "merge_id", frame, columns)
