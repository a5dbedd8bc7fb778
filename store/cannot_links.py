"""The cannot-links table: pairs of customers an agent said are different people, for good.

A link is kept once per pair (low id, high id) between the original customer ids; merges do not
move it, so every check looks across the customers merged into each side (`store.redirects`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from store import redirects
from store.db import Store


def _pair(customer_a: int, customer_b: int) -> tuple[int, int]:
    return (min(int(customer_a), int(customer_b)), max(int(customer_a), int(customer_b)))


def record(
    store: Store, customer_a: int, customer_b: int, suggestion_id: int | None, created_by: str,
    reason: str | None, now: datetime,
) -> None:  # fmt: skip
    """Record that two customers are different people (a rejection): a later reason replaces an earlier one."""
    low, high = _pair(customer_a, customer_b)
    store.execute(
        """INSERT INTO cannot_links (customer_id_a, customer_id_b, suggestion_id, created_by, created_at, reason)
        VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (customer_id_a, customer_id_b) DO UPDATE SET suggestion_id = excluded.suggestion_id,
            created_by = excluded.created_by, created_at = excluded.created_at, reason = excluded.reason""",
        [low, high, suggestion_id, created_by, now, reason],
    )


def record_if_absent(
    store: Store, customer_a: int, customer_b: int, created_by: str, now: datetime,
    suggestion_id: int | None = None, reason: str | None = None,
) -> bool:  # fmt: skip
    """Record that two customers are different people unless the pair is recorded already (an undo); whether new."""
    low, high = _pair(customer_a, customer_b)
    if store.scalar("SELECT 1 FROM cannot_links WHERE customer_id_a = ? AND customer_id_b = ?", [low, high]):
        return False
    store.execute(
        "INSERT INTO cannot_links VALUES (?, ?, ?, ?, ?, ?)",
        [low, high, suggestion_id, created_by, now, reason],
    )
    return True


def get(store: Store, customer_a: int, customer_b: int) -> dict[str, Any] | None:
    """The recorded cannot-link of exactly this pair (either order), with who made it and why."""
    low, high = _pair(customer_a, customer_b)
    rows = store.rows(
        """SELECT customer_id_a, customer_id_b, suggestion_id, created_by, reason FROM cannot_links
        WHERE customer_id_a = ? AND customer_id_b = ?""",
        [low, high],
    )
    return rows[0] if rows else None


def between(store: Store, customer_l: int, customer_r: int) -> dict[str, Any] | None:
    """The oldest cannot-link between any customer merged into `customer_l` (or itself) and any of `customer_r`."""
    sides = redirects.members(store, [customer_l, customer_r])
    left = ", ".join(str(i) for i in sorted(sides[int(customer_l)]))
    right = ", ".join(str(i) for i in sorted(sides[int(customer_r)]))
    rows = store.rows(
        f"""SELECT * FROM cannot_links
        WHERE (customer_id_a IN ({left}) AND customer_id_b IN ({right}))
           OR (customer_id_a IN ({right}) AND customer_id_b IN ({left}))
        ORDER BY created_at LIMIT 1"""
    )
    return rows[0] if rows else None


def everything(store: Store) -> list[dict[str, Any]]:
    """Every cannot-link (ends, the suggestion and who made it), oldest first."""
    return store.rows(
        """SELECT customer_id_a, customer_id_b, suggestion_id, created_by, created_at FROM cannot_links
        ORDER BY created_at"""
    )


def by_survivors(store: Store) -> dict[tuple[int, int], dict[str, Any]]:
    """Cannot-links lifted to the surviving customers of both ends: (low root, high root) -> the oldest link."""
    rows = everything(store)
    ends = redirects.resolve(store, [int(r[c]) for r in rows for c in ("customer_id_a", "customer_id_b")])
    # the end of each chain, also when it points at a missing customer; a link to no customer drops out
    roots = {c: r.chain[-1] for c, r in ends.items() if len(r.chain) > 1 or r.survivor is not None}
    links: dict[tuple[int, int], dict[str, Any]] = {}
    for row in rows:
        a, b = roots.get(int(row["customer_id_a"])), roots.get(int(row["customer_id_b"]))
        if a is not None and b is not None:
            links.setdefault((min(a, b), max(a, b)), {"low": min(a, b), "high": max(a, b), **row})
    return links


def _in(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids) or "NULL"


def of_customers(store: Store, customer_ids: Sequence[int]) -> pl.DataFrame:
    """Cannot-links involving these customers (their reason is free text about the person)."""
    ids = _in(customer_ids)
    return store.frame(
        f"""SELECT customer_id_a, customer_id_b, reason FROM cannot_links
        WHERE customer_id_a IN ({ids}) OR customer_id_b IN ({ids})"""
    )


def rewrite_reasons(store: Store, frame: pl.DataFrame) -> int:
    """Overwrite the reason of cannot-links (customer_id_a, customer_id_b, reason): an erasure scrubs them."""
    if frame.height == 0:
        return 0
    with store.registered("scrubbed_links", frame):
        store.execute(
            """UPDATE cannot_links SET reason = f.reason FROM scrubbed_links f
            WHERE cannot_links.customer_id_a = f.customer_id_a AND cannot_links.customer_id_b = f.customer_id_b"""
        )
    return frame.height
