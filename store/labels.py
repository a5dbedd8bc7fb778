"""SQL for training labels: every agent's decision as labelled identity pairs, and reading them back.

Written inside the decision's own transaction (approve, reject, bulk approve, manual merge,
undo), so a label exists exactly when its decision does. A suggestion's label is its best
identity pair with the comparison levels its evidence shows (no values) and the configuration of
the match run that scored it; a manual merge or an undo without a suggestion labels the identity
pairs across the two customers (at most MAX_PAIRS, each weighing 1/k: one decision counts once).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from store.db import Store

APPROVE, REJECT, MANUAL_MERGE, UNDO = "approve", "reject", "manual_merge", "undo"
MATCH_KINDS = (APPROVE, MANUAL_MERGE)
MAX_PAIRS = 25

_SCHEMA = {
    "identity_id_l": pl.Int64,
    "identity_id_r": pl.Int64,
    "customer_id_l": pl.Int64,
    "customer_id_r": pl.Int64,
    "is_match": pl.Boolean,
    "kind": pl.String,
    "weight": pl.Float64,
    "suggestion_id": pl.Int64,
    "merge_id": pl.Int64,
    "run_id": pl.Int64,
    "config_id": pl.String,
    "probability": pl.Float64,
    "levels": pl.String,
}


def evidence_levels(evidence: str | list[dict[str, Any]] | None) -> str | None:
    """{comparison: level} of a suggestion's evidence as JSON (values left out), None without evidence."""
    items = json.loads(evidence) if isinstance(evidence, str) else evidence
    if not items:
        return None
    return json.dumps({item["field"]: item["level"] for item in items if item.get("level")}, sort_keys=True)


def _insert(store: Store, rows: pl.DataFrame, agent: str, now: datetime) -> int:
    if rows.height == 0:
        return 0
    first = store.next_id("labels", "label_id")
    frame = rows.select(list(_SCHEMA)).cast(_SCHEMA).with_row_index("_i")  # type: ignore[arg-type]
    columns = ", ".join(_SCHEMA)
    with store.registered("new_labels", frame):
        store.execute(
            f"""INSERT INTO labels (label_id, {columns}, decided_by, decided_at)
            SELECT ? + _i, {columns}, ?, ? FROM new_labels ORDER BY _i""",
            [first, agent, now],
        )
    return rows.height


def record_for_suggestions(
    store: Store,
    suggestion_ids: Sequence[int],
    kind: str,
    agent: str,
    now: datetime,
    merge_id: int | None = None,
) -> int:
    """Label the best identity pair of each suggestion (match for approve / manual_merge); returns rows written."""
    if not suggestion_ids:
        return 0
    ids = pl.DataFrame(
        {"suggestion_id": [int(s) for s in suggestion_ids]}, schema={"suggestion_id": pl.Int64}
    )
    with store.registered("labelled_suggestions", ids):
        found = store.frame(
            """SELECT s.suggestion_id, s.identity_id_l, s.identity_id_r, s.customer_id_l, s.customer_id_r,
                   s.probability, s.updated_run_id AS run_id, r.config_id, CAST(s.evidence AS VARCHAR) AS evidence
            FROM suggestions s JOIN labelled_suggestions x ON x.suggestion_id = s.suggestion_id
            LEFT JOIN match_runs r ON r.run_id = s.updated_run_id
            WHERE s.identity_id_l IS NOT NULL AND s.identity_id_r IS NOT NULL
            ORDER BY s.suggestion_id"""
        )
    if found.height == 0:
        return 0
    rows = found.with_columns(
        pl.Series(
            "levels", [evidence_levels(e) for e in found.get_column("evidence").to_list()], dtype=pl.String
        ),
        pl.lit(kind in MATCH_KINDS).alias("is_match"),
        pl.lit(kind).alias("kind"),
        pl.lit(1.0).alias("weight"),
        pl.lit(merge_id, dtype=pl.Int64).alias("merge_id"),
    )
    return _insert(store, rows, agent, now)


def record_for_customers(
    store: Store,
    identities_l: Sequence[int],
    identities_r: Sequence[int],
    customer_l: int,
    customer_r: int,
    kind: str,
    agent: str,
    now: datetime,
    merge_id: int | None = None,
) -> int:
    """Label identity pairs across two customers (no suggestion to take a pair from); one decision in all."""
    pairs = [(a, b) for a in sorted(identities_l) for b in sorted(identities_r) if a != b][:MAX_PAIRS]
    return record_pairs(
        store,
        [a for a, _ in pairs],
        [b for _, b in pairs],
        kind,
        agent,
        now,
        merge_id,
        (customer_l, customer_r),
    )


def record_pairs(
    store: Store,
    left: Sequence[int],
    right: Sequence[int],
    kind: str,
    agent: str,
    now: datetime,
    merge_id: int | None = None,
    customers: tuple[int, int] | None = None,
) -> int:
    """Label these identity pairs as one decision (each pair weighs 1/k), with no stored comparison."""
    k = len(left)
    if k == 0:
        return 0
    rows = pl.DataFrame(
        {
            "identity_id_l": list(left),
            "identity_id_r": list(right),
            "customer_id_l": [None if customers is None else customers[0]] * k,
            "customer_id_r": [None if customers is None else customers[1]] * k,
            "is_match": [kind in MATCH_KINDS] * k,
            "kind": [kind] * k,
            "weight": [1.0 / k] * k,
            "suggestion_id": [None] * k,
            "merge_id": [merge_id] * k,
            "run_id": [None] * k,
            "config_id": [None] * k,
            "probability": [None] * k,
            "levels": [None] * k,
        },
        schema=_SCHEMA,
    )
    return _insert(store, rows, agent, now)


def labels_of_merge(store: Store, merge_id: int) -> pl.DataFrame:
    """The identity pairs a merge was labelled with (a manual merge without suggestion)."""
    return store.frame(
        "SELECT identity_id_l, identity_id_r FROM labels WHERE merge_id = ? AND kind = ? ORDER BY label_id",
        [merge_id, MANUAL_MERGE],
    )


def training_labels(store: Store) -> pl.DataFrame:
    """Every label in decision order: identity pair, is_match, weight, stored levels and their config_id."""
    return store.frame(
        """SELECT identity_id_l, identity_id_r, is_match, weight, CAST(levels AS VARCHAR) AS levels, config_id
        FROM labels ORDER BY label_id"""
    )


def label_history(store: Store) -> pl.DataFrame:
    """Labels in decision order with kind, agent, time and the model's probability then (for the report)."""
    return store.frame(
        """SELECT label_id, identity_id_l, identity_id_r, is_match, kind, weight, decided_by, decided_at,
               probability, run_id
        FROM labels ORDER BY label_id"""
    )


def counts_by_kind(store: Store) -> dict[str, int]:
    """Decisions recorded as labels, per kind (a manual merge's pairs count once)."""
    rows = store.rows(
        """SELECT kind, count(DISTINCT coalesce(CAST(suggestion_id AS VARCHAR), 'm' || merge_id, 'l' || label_id))
            AS n FROM labels GROUP BY kind ORDER BY kind"""
    )
    return {r["kind"]: int(r["n"]) for r in rows}
