"""Set-based SQL for an apply run: a few statements per run (not per merge), over registered frames.

The caller (review/apply_run.py) plans every merge of the run in memory and hands the outcome here
as frames; each function is one or two statements. The caller holds the run's transaction.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl
import pyarrow as pa

from domain.columns import PROFILE_FIELDS, PROFILE_SCALAR_FIELDS
from domain.statuses import CustomerStatus
from store.db import Store

_SCALARS = tuple(field for field in PROFILE_SCALAR_FIELDS if field != "birth_date")


def _ids_frame(ids: Sequence[int]) -> pl.DataFrame:
    return pl.DataFrame({"id": list(ids)}, schema={"id": pl.Int64})


def customer_rows(store: Store, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Full customers rows of these ids, keyed by id."""
    if not ids:
        return {}
    with store.registered("run_customers", _ids_frame(ids)):
        rows = store.rows("SELECT c.* FROM customers c JOIN run_customers r ON r.id = c.customer_id")
    return {int(row["customer_id"]): row for row in rows}


def customer_states(store: Store, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What an apply run's plan reads of these customers (status, anonymized, lock), keyed by id."""
    if not ids:
        return {}
    with store.registered("run_customers", _ids_frame(ids)):
        frame = store.frame(
            """SELECT c.customer_id, c.status, c.anonymized_at IS NOT NULL AS anonymized, c.locked, c.lock_reason
            FROM customers c JOIN run_customers r ON r.id = c.customer_id"""
        )
    return {int(row["customer_id"]): row for row in frame.to_dicts()}


def _stamp_text(column: str) -> pl.Expr:
    """A timestamp as `str(datetime)` writes it (the form a before-image keeps), in polars."""
    value = pl.col(column)
    return (
        pl.when(value.dt.microsecond() == 0)
        .then(value.dt.strftime("%Y-%m-%d %H:%M:%S"))
        .otherwise(value.dt.strftime("%Y-%m-%d %H:%M:%S%.6f"))
        .alias(column)
    )


def stamp_text(moment: datetime) -> str:
    """A timestamp as a before-image keeps it (the same text `_stamp_text` gives)."""
    return str(moment)


def customer_images(
    store: Store, ids: Sequence[int], full: set[int] | None = None
) -> tuple[dict[int, str], dict[int, dict[str, Any]]]:
    """Customers rows as before-images keep them (`store.merges.image_of`): JSON text of each, keyed by
    id, and the rows themselves of the ids in `full` and of every customer with agent edits.

    Encoded as one frame (timestamps as `str(datetime)` writes them): an apply run reads a few
    hundred thousand rows, and converting and encoding them value by value in Python took most of
    its time.
    """
    if not ids:
        return {}, {}
    with store.registered("run_customers", _ids_frame(ids)):
        frame = store.frame("SELECT c.* FROM customers c JOIN run_customers r ON r.id = c.customer_id")
    stamps = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]
    dates = [name for name, dtype in frame.schema.items() if dtype == pl.Date]
    frame = frame.with_columns(*[_stamp_text(c) for c in stamps], *[pl.col(c).cast(pl.String) for c in dates])
    texts = frame.select(pl.col("customer_id"), pl.struct(pl.all()).struct.json_encode().alias("image"))
    wanted = frame.filter(
        pl.col("customer_id").is_in(sorted(full or ())) | (pl.col("agent_edited").list.len() > 0)
    )
    return (
        dict(zip(texts["customer_id"].to_list(), texts["image"].to_list(), strict=True)),
        {int(row["customer_id"]): row for row in wanted.to_dicts()},
    )


def identity_values(store: Store, ids: Sequence[int]) -> pl.DataFrame:
    """Per identity of these customers, its profile values (survivorship input), as `identity_profile_values`."""
    scalars = ", ".join(f"nullif(trim(i.{column}), '') AS {column}" for column in _SCALARS)
    with store.registered("run_customers", _ids_frame(ids)):
        return store.frame(
            f"""SELECT i.customer_id, i.identity_id, i.channel, i.updated_at, {scalars},
                CAST(i.birth_date_norm AS VARCHAR) AS birth_date,
                CASE WHEN i.email_valid THEN i.email_norm END AS emails,
                CASE WHEN i.phone_valid THEN i.phone_e164 END AS phones
            FROM identities i JOIN run_customers r ON r.id = i.customer_id
            ORDER BY i.customer_id, i.identity_id"""
        )


def comment_owners(store: Store, ids: Sequence[int]) -> pl.DataFrame:
    """comment_id and customer_id of the comments written on these customers."""
    with store.registered("run_customers", _ids_frame(ids)):
        return store.frame(
            """SELECT k.comment_id, k.customer_id FROM comments k JOIN run_customers r ON r.id = k.customer_id
            ORDER BY k.comment_id"""
        )


def move_to_roots(store: Store, table: str, moves: pl.DataFrame) -> None:
    """Give every row of `table` (identities or comments) held by a moved customer to its new root."""
    if table not in ("identities", "comments") or moves.height == 0:
        return
    with store.registered("run_moves", moves.select("customer_id", "root")):
        store.execute(
            f"""UPDATE {table} SET customer_id = m.root FROM run_moves m
            WHERE {table}.customer_id = m.customer_id"""
        )


def redirect_absorbed(store: Store, redirects: pl.DataFrame, now: datetime) -> None:
    """Mark the absorbed customers merged into their merge's survivor (customer_id, survivor_id)."""
    if redirects.height == 0:
        return
    with store.registered("run_redirects", redirects.select("customer_id", "survivor_id")):
        store.execute(
            f"""UPDATE customers SET status = '{CustomerStatus.MERGED}', merged_into = r.survivor_id, updated_at = ?
            FROM run_redirects r WHERE customers.customer_id = r.customer_id""",
            [now],
        )


def write_profiles(store: Store, rows: list[dict[str, Any]], now: datetime) -> None:
    """Set the rebuilt profile (fields, profile_sources, agent_edited) of each survivor, in a few statements.

    The rows are rewritten (deleted and inserted again with the new profile), not updated: DuckDB
    updates a list column (emails, phones, agent_edited) at several milliseconds a row, which made
    this one statement most of a 100,000-merge run.
    """
    if not rows:
        return
    schema: dict[str, Any] = {"customer_id": pl.Int64, "profile_sources": pl.String}
    schema |= {field: pl.String for field in PROFILE_FIELDS if field not in ("emails", "phones")}
    schema |= {"emails": pl.List(pl.String), "phones": pl.List(pl.String), "agent_edited": pl.List(pl.String)}
    frame = pl.DataFrame(
        {
            column: _list_column(column, [row.get(column) for row in rows])
            if isinstance(dtype, pl.List)
            else pl.Series(column, [row.get(column) for row in rows], dtype=dtype)
            for column, dtype in schema.items()
        }
    )
    replaced = ", ".join(
        f"CAST(p.{column} AS JSON) AS {column}" if column == "profile_sources" else f"p.{column} AS {column}"
        for column in schema
        if column != "customer_id"
    )
    with store.registered("run_profiles", frame):
        store.execute(
            f"""CREATE OR REPLACE TEMP TABLE run_rewritten AS
            SELECT c.* REPLACE ({replaced}, CAST(? AS TIMESTAMP) AS updated_at)
            FROM customers c JOIN run_profiles p ON p.customer_id = c.customer_id""",
            [now],
        )
    try:
        store.execute("DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM run_rewritten)")
        store.execute("INSERT INTO customers SELECT * FROM run_rewritten")
    finally:
        store.execute("DROP TABLE IF EXISTS run_rewritten")


def _list_column(name: str, values: list[list[str] | None]) -> pl.Series:
    """A list-of-strings column built from offsets (polars makes a Series per Python list: seconds at 100k)."""
    offsets = [0, *itertools.accumulate(len(value or ()) for value in values)]
    flat = pa.array(list(itertools.chain.from_iterable(value or () for value in values)), pa.large_string())
    missing = pa.array([value is None for value in values], pa.bool_())
    series = pl.Series(name, pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), flat, mask=missing))
    return series.cast(pl.List(pl.String))


def insert_merges(store: Store, merges: pl.DataFrame) -> None:
    """Insert the run's merges rows (before_image as JSON text) in one statement."""
    if merges.height == 0:
        return
    columns = ", ".join(merges.columns)
    select = columns.replace("before_image", "CAST(before_image AS JSON) AS before_image")
    with store.registered("run_merges", merges):
        store.execute(f"INSERT INTO merges ({columns}) SELECT {select} FROM run_merges")


def insert_audit(store: Store, entries: pl.DataFrame) -> None:
    """Append audit entries (audit_id, occurred_at, actor, action, subject_kind, subject_id, details)."""
    if entries.height == 0:
        return
    with store.registered("run_audit", entries):
        store.execute(
            """INSERT INTO audit_log SELECT audit_id, occurred_at, actor, action, subject_kind, subject_id,
                CAST(details AS JSON) FROM run_audit"""
        )


def image_json(row: dict[str, Any]) -> Any:
    """A row as kept in a before-image (JSON-decoded, compared by value), as `store.merges.image_of`."""
    return json.loads(json.dumps(row, default=str))
