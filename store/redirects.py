"""The merge-redirect graph: where a customer id leads now, and which customers a survivor absorbed.

A merge marks the absorbed customer `status = 'merged'` with `merged_into` = the survivor; merging
that survivor later makes a chain. This is the one place that follows those pointers: the customer
page and record, staleness checks, cannot-links across merges, compliance's person, merge logs.
Set-based: many ids cost as many statements as the longest chain is long, not one per id or per hop.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import polars as pl

from domain.statuses import CustomerStatus
from store.db import Store, StoreError

MERGED = CustomerStatus.MERGED
ACTIVE = CustomerStatus.ACTIVE
# above this many ids a statement joins a registered frame; below, the ids are inlined (ints only),
# which DuckDB answers as point lookups
_INLINE_IDS = 500


class RedirectCycleError(StoreError):
    """A merged customer's redirects lead back to itself: the store is corrupt there."""


@dataclass(frozen=True)
class Redirect:
    """Where one customer id leads: the ids walked through (asked first, the end last) and the end's status."""

    asked: int
    chain: tuple[int, ...]
    survivor: int | None  # None: the chain ends at an id with no customers row
    status: str | None  # the survivor's status (active, anonymized); None when there is no survivor

    @property
    def redirected_from(self) -> list[int]:
        """The ids that redirected to the survivor (empty when the asked id is the survivor)."""
        return list(self.chain[:-1])


def _ints(ids: Iterable[int]) -> list[int]:
    return sorted({int(i) for i in ids})


def _states(store: Store, ids: list[int]) -> dict[int, tuple[str, int | None]]:
    """status and merged_into of these customers (absent ids are left out)."""
    if not ids:
        return {}
    if len(ids) <= _INLINE_IDS:
        rows = store.rows(
            "SELECT customer_id, status, merged_into FROM customers "
            f"WHERE customer_id IN ({', '.join(str(i) for i in ids)})"
        )
    else:
        frame = pl.DataFrame({"id": ids}, schema={"id": pl.Int64})
        with store.registered("redirect_ids", frame):
            rows = store.rows(
                "SELECT c.customer_id, c.status, c.merged_into FROM customers c "
                "JOIN redirect_ids r ON r.id = c.customer_id"
            )
    return {int(r["customer_id"]): (str(r["status"]), r["merged_into"]) for r in rows}


def resolve(store: Store, customer_ids: Iterable[int]) -> dict[int, Redirect]:
    """Follow every id's merge redirects to its survivor; raises RedirectCycleError on a corrupt cycle."""
    walking = {start: [start] for start in _ints(customer_ids)}
    known: dict[int, tuple[str, int | None]] = {}
    resolved: dict[int, Redirect] = {}
    while walking:
        known.update(_states(store, sorted({path[-1] for path in walking.values()} - known.keys())))
        further: dict[int, list[int]] = {}
        for start, path in walking.items():
            state = known.get(path[-1])
            if state is None:
                resolved[start] = Redirect(start, tuple(path), None, None)
                continue
            status, merged_into = state
            if status != MERGED or merged_into is None:
                resolved[start] = Redirect(start, tuple(path), path[-1], status)
                continue
            if int(merged_into) in path:
                raise RedirectCycleError(
                    f"customer redirect cycle starting at {start}: {' -> '.join(map(str, path))} -> {merged_into}"
                )
            further[start] = [*path, int(merged_into)]
        walking = further
    return resolved


def resolve_one(store: Store, customer_id: int) -> Redirect:
    """Follow one id's merge redirects (see `resolve`)."""
    return resolve(store, [customer_id])[int(customer_id)]


def survivors(store: Store, customer_ids: Iterable[int]) -> dict[int, int | None]:
    """Each id -> the customer it leads to now (None for ids with no customer)."""
    return {asked: redirect.survivor for asked, redirect in resolve(store, customer_ids).items()}


def live(store: Store, customer_ids: Iterable[int]) -> list[int]:
    """The active customers these ids lead to, sorted; anonymized and unknown ids drop out."""
    return sorted(
        {
            r.survivor
            for r in resolve(store, customer_ids).values()
            if r.survivor is not None and r.status == ACTIVE
        }
    )


def members(store: Store, customer_ids: Iterable[int]) -> dict[int, set[int]]:
    """Each id -> itself and every customer merged into it, directly or through a chain of merges."""
    ids = _ints(customer_ids)
    if not ids:
        return {}
    # UNION (not UNION ALL) stops at rows seen before, so even a corrupt cycle ends
    rows = store.rows(
        f"""WITH RECURSIVE m(root, customer_id) AS (
            SELECT id, id FROM (SELECT unnest([{", ".join(str(i) for i in ids)}]) AS id)
            UNION
            SELECT m.root, c.customer_id FROM customers c JOIN m ON c.merged_into = m.customer_id
            WHERE c.status = '{MERGED}')
        SELECT root, customer_id FROM m"""
    )
    found: dict[int, set[int]] = {i: {i} for i in ids}
    for row in rows:
        found[int(row["root"])].add(int(row["customer_id"]))
    return found


def person(store: Store, customer_ids: Iterable[int]) -> list[int]:
    """Every one of these customers and every customer merged into any of them, sorted."""
    return sorted({member for group in members(store, customer_ids).values() for member in group})


def pointers(store: Store) -> dict[int, int]:
    """Every merged customer -> the customer it was merged into (an apply run's union-find starts here)."""
    frame = store.frame(f"SELECT customer_id, merged_into FROM customers WHERE status = '{MERGED}'")
    if frame.height == 0:
        return {}
    return dict(zip(frame["customer_id"].to_list(), frame["merged_into"].to_list(), strict=True))


def follow(pointers_: dict[int, int], customer_id: int, max_hops: int = 10_000) -> int:
    """Where `customer_id` ends up along `pointers_` (from `pointers`): the live survivor, or itself.

    The in-memory twin of `resolve`, for a caller that holds the whole graph (an apply run plans
    thousands of merges against it); `max_hops` stops a corrupt cycle instead of looping.
    """
    hops = 0
    while customer_id in pointers_ and hops < max_hops:
        customer_id, hops = pointers_[customer_id], hops + 1
    return customer_id
