"""SQL for match runs and merge suggestions: the matching input, saving results, listing and exports.

A suggestion is one customer pair (customer_id_l < customer_id_r) and keeps its id across runs.
Re-running never duplicates a pending pair, never brings back a rejected pair unless its evidence
changed, and never touches approved or applied pairs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import polars as pl

from domain.columns import IDENTITY_KEY_COLUMNS, NORMALIZED_IDENTITY_COLUMNS, RAW_IDENTITY_COLUMNS
from store.db import Store

SUCCEEDED = "succeeded"
_SUGGESTION_COLUMNS = (
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
_ELIGIBLE = """FROM identities i JOIN customers c ON c.customer_id = i.customer_id
    WHERE c.status = 'active' AND NOT c.locked AND NOT i.anonymized AND c.anonymized_at IS NULL"""


MATCH_COLUMNS = (*IDENTITY_KEY_COLUMNS, *RAW_IDENTITY_COLUMNS, *NORMALIZED_IDENTITY_COLUMNS)


def load_match_input(
    store: Store, extra_columns: Iterable[str] = (), columns: Iterable[str] | None = None
) -> tuple[pl.DataFrame, pl.Series, pl.Series]:
    """(identities of active, unlocked, non-anonymized customers; match_pending ids; excluded customer ids).

    `extra_columns` are extra attributes (keys of the `extra` JSON) that configured comparisons read;
    `columns` limits the store columns read (of MATCH_COLUMNS; default all): at a million
    identities reading the dozen the engine uses takes a fifth of the time of reading all 31.
    """
    extras = "".join(
        f', json_extract_string(i.extra, \'$."{name}"\') AS "{name}"' for name in sorted(set(extra_columns))
    )
    wanted = MATCH_COLUMNS if columns is None else [c for c in MATCH_COLUMNS if c in set(columns)]
    columns = ", ".join(f"i.{c}" for c in wanted)
    identities = store.frame(
        f"""SELECT i.identity_id, i.customer_id, {columns + ", " if columns else ""}i.match_pending{extras}
        {_ELIGIBLE} ORDER BY i.identity_id"""
    )
    changed = identities.filter(pl.col("match_pending")).get_column("identity_id").rename("identity_id")
    excluded = store.frame(
        "SELECT customer_id FROM customers WHERE locked OR status <> 'active' ORDER BY customer_id"
    ).get_column("customer_id")
    return identities.drop("match_pending"), changed, excluded


def latest_model(store: Store) -> dict[str, Any] | None:
    """The model of the latest successful match run that fitted or used one (None before any)."""
    value = store.scalar(
        "SELECT model FROM match_runs WHERE status = ? AND model IS NOT NULL ORDER BY run_id DESC LIMIT 1",
        [SUCCEEDED],
    )
    return None if value is None else json.loads(value)


def _store_band(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when((pl.col("band") == "below") & pl.col("related_only"))
        .then(pl.lit("related"))
        .otherwise(pl.col("band"))
        .alias("band"),
        pl.col("rule").cast(pl.String),
        pl.col("evidence").cast(pl.String),
    )


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


def _insert_run(store: Store, run: dict[str, Any], config: dict[str, Any] | None = None) -> None:
    if config is not None:  # the effective configuration of the run (idres/config.py run_record)
        run = {**run, "config_id": config.get("config_id"), "config": json.dumps(config, default=str)}
    columns = ", ".join(run)
    store.execute(
        f"INSERT INTO match_runs ({columns}) VALUES ({', '.join('?' for _ in run)})", list(run.values())
    )


def record_empty_run(
    store: Store,
    mode: str,
    started: datetime,
    now: datetime,
    identities_total: int,
    note: str,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record a run that had nothing to score (no changed identities); returns its counts."""
    with store.transaction():
        run_id = store.next_id("match_runs", "run_id")
        counts = {
            "run_id": run_id,
            "identities_total": identities_total,
            "identities_changed": 0,
            "pairs_compared": 0,
            "suggestions_new": 0,
            "suggestions_updated": 0,
            "suggestions_reopened": 0,
        }
        _insert_run(
            store,
            {
                **counts,
                "mode": mode,
                "status": SUCCEEDED,
                "started_at": started,
                "finished_at": now,
                "rule_counts": json.dumps([]),
                "band_counts": json.dumps({}),
                "model": None,
                "seconds": (now - started).total_seconds(),
            },
            config,
        )
    return {**counts, "identities_scored": 0, "band_counts": {}, "note": note, "config_id": _id(config)}


def save_match_result(
    store: Store,
    result: Any,
    mode: str,
    started: datetime,
    now: datetime,
    scored_ids: pl.Series | None = None,
    identities_total: int | None = None,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record the run, upsert its suggestions and clear match_pending of the scored identities, atomically.

    `scored_ids` are the identities this run scored (all of a full run, the changed ones of an
    incremental run); their match_pending is cleared unless they changed again after `started`.
    """
    incoming = _store_band(result.suggestions.select("customer_id_l", "customer_id_r", *_SUGGESTION_COLUMNS))
    band_counts = {row["band"]: row["len"] for row in incoming.group_by("band").len().sort("band").to_dicts()}
    with store.transaction(), store.registered("incoming_suggestions", incoming):
        run_id = store.next_id("match_runs", "run_id")
        store.execute(
            """CREATE OR REPLACE TEMP TABLE sstage AS
            SELECT n.*, s.suggestion_id, s.status AS old_status, s.evidence_hash AS old_hash,
                   CAST(s.evidence AS VARCHAR) AS old_evidence,
                   CASE WHEN s.suggestion_id IS NULL THEN 'new'
                        WHEN s.status = 'pending' AND s.evidence_hash IS DISTINCT FROM n.evidence_hash
                            THEN 'updated'
                        WHEN s.status = 'pending' THEN 'refreshed'
                        WHEN s.status = 'rejected' AND s.evidence_hash IS DISTINCT FROM n.evidence_hash
                            THEN 'reopened'
                        ELSE 'kept' END AS action
            FROM incoming_suggestions n
            LEFT JOIN suggestions s ON s.customer_id_l = n.customer_id_l AND s.customer_id_r = n.customer_id_r"""
        )
        actions = {
            r["action"]: r["n"] for r in store.rows("SELECT action, count(*) AS n FROM sstage GROUP BY 1")
        }
        assignments = ", ".join(f"{c} = t.{c}" for c in _SUGGESTION_COLUMNS)
        store.execute(
            f"""UPDATE suggestions SET {assignments}, updated_run_id = ?, updated_at = ?
            FROM sstage t WHERE t.action IN ('updated', 'refreshed')
              AND suggestions.suggestion_id = t.suggestion_id""",
            [run_id, now],
        )
        reopened = store.rows(
            "SELECT suggestion_id, old_evidence, evidence FROM sstage WHERE action = 'reopened'"
        )
        for row in reopened:
            reason = f"reopened by match run {run_id}: new evidence: {_new_evidence(row['old_evidence'], row['evidence'])}"
            store.execute(
                f"""UPDATE suggestions SET {assignments}, status = 'pending', status_reason = ?,
                    decided_by = NULL, decided_at = NULL, updated_run_id = ?, updated_at = ?
                FROM sstage t WHERE t.suggestion_id = ? AND suggestions.suggestion_id = t.suggestion_id""",
                [reason, run_id, now, row["suggestion_id"]],
            )
        first = store.next_id("suggestions", "suggestion_id")
        columns = ", ".join(_SUGGESTION_COLUMNS)
        store.execute(
            f"""INSERT INTO suggestions (suggestion_id, customer_id_l, customer_id_r, {columns}, status,
                created_run_id, updated_run_id, created_at, updated_at)
            SELECT ? + row_number() OVER (ORDER BY customer_id_l, customer_id_r) - 1, customer_id_l,
                   customer_id_r, {columns}, 'pending', ?, ?, ?, ?
            FROM sstage WHERE action = 'new'""",
            [first, run_id, run_id, now, now],
        )
        superseded = 0
        if mode == "full":
            # a full run sees every pair: a pending pair it no longer suggests has lost its evidence
            superseded = int(
                store.scalar(
                    """SELECT count(*) FROM suggestions s WHERE s.status = 'pending' AND NOT EXISTS (
                    SELECT 1 FROM sstage t WHERE t.customer_id_l = s.customer_id_l
                                             AND t.customer_id_r = s.customer_id_r)"""
                )
            )
            store.execute(
                """UPDATE suggestions SET status = 'superseded', updated_run_id = ?, updated_at = ?,
                    status_reason = 'no longer suggested by full match run ' || ? ||
                                    ': its evidence changed or a customer is locked, merged or anonymized'
                WHERE status = 'pending' AND NOT EXISTS (
                    SELECT 1 FROM sstage t WHERE t.customer_id_l = suggestions.customer_id_l
                                             AND t.customer_id_r = suggestions.customer_id_r)""",
                [run_id, now, run_id],
            )
        store.execute("DROP TABLE sstage")
        scored = 0
        if scored_ids is not None and len(scored_ids):
            ids = pl.DataFrame({"identity_id": scored_ids.cast(pl.Int64)})
            with store.registered("scored_identities", ids):
                scored = int(
                    store.scalar(
                        """SELECT count(*) FROM identities WHERE match_pending AND changed_at <= ?
                        AND identity_id IN (SELECT identity_id FROM scored_identities)""",
                        [started],
                    )
                )
                store.execute(
                    """UPDATE identities SET match_pending = FALSE WHERE match_pending AND changed_at <= ?
                    AND identity_id IN (SELECT identity_id FROM scored_identities)""",
                    [started],
                )
        counts = {
            "run_id": run_id,
            "identities_total": identities_total,
            "identities_changed": None if scored_ids is None or mode == "full" else len(scored_ids),
            "pairs_compared": result.pairs.height,
            "suggestions_new": actions.get("new", 0),
            "suggestions_updated": actions.get("updated", 0),
            "suggestions_reopened": actions.get("reopened", 0),
        }
        _insert_run(
            store,
            {
                **counts,
                "mode": mode,
                "status": SUCCEEDED,
                "started_at": started,
                "finished_at": now,
                "rule_counts": json.dumps(result.rule_counts.to_dicts(), default=str),
                "band_counts": json.dumps(band_counts),
                "model": json.dumps(result.model.to_dict(), default=str),
                "seconds": (now - started).total_seconds(),
            },
            config,
        )
    return {
        **counts,
        "suggestions_unchanged_decided": actions.get("kept", 0),
        "suggestions_superseded": superseded,
        "identities_scored": scored,
        "band_counts": band_counts,
        "config_id": _id(config),
    }


def _id(config: dict[str, Any] | None) -> str | None:
    return None if config is None else config.get("config_id")


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
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if band:
        where.append("band = ?")
        params.append(band)
    elif order != "informative":
        where.append("band <> 'possible'")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return store.rows(
        f"""SELECT suggestion_id, customer_id_l, customer_id_r, probability, match_weight, band, status,
            related_only, reason, rule, updated_run_id, updated_at, status_reason
        FROM suggestions {clause} ORDER BY {order_clause(order)} LIMIT ?""",
        [*params, int(limit)],
    )


def _identities_of(store: Store, customer_id: int) -> list[dict[str, Any]]:
    return store.rows(
        """SELECT identity_id, channel, external_id, display_name, first_name, last_name,
            email_norm AS email, phone_e164 AS phone
        FROM identities WHERE customer_id = ? ORDER BY identity_id""",
        [customer_id],
    )


def get_suggestion(store: Store, suggestion_id: int) -> dict[str, Any] | None:
    """One suggestion with its evidence parsed and both customers' identities."""
    rows = store.rows("SELECT * FROM suggestions WHERE suggestion_id = ?", [suggestion_id])
    if not rows:
        return None
    record = rows[0]
    record["evidence"] = json.loads(record["evidence"]) if record["evidence"] else []
    record["identities_l"] = _identities_of(store, record["customer_id_l"])
    record["identities_r"] = _identities_of(store, record["customer_id_r"])
    return record


_KEYS = "list(i.channel || ':' || i.external_id ORDER BY i.identity_id)"


def suggestions_for_export(store: Store) -> pl.DataFrame:
    """One row per suggestion with both customers' identities as lists of channel:external_id."""
    return store.frame(
        f"""WITH keys AS (SELECT i.customer_id, {_KEYS} AS identities FROM identities i GROUP BY 1)
        SELECT s.suggestion_id, s.customer_id_l, s.customer_id_r, s.probability, s.match_weight, s.band,
               s.status, s.related_only, s.reason, s.rule, CAST(s.evidence AS VARCHAR) AS evidence,
               coalesce(kl.identities, []) AS identities_l, coalesce(kr.identities, []) AS identities_r
        FROM suggestions s
        LEFT JOIN keys kl ON kl.customer_id = s.customer_id_l
        LEFT JOIN keys kr ON kr.customer_id = s.customer_id_r
        ORDER BY s.suggestion_id"""
    )


def customers_for_export(store: Store) -> pl.DataFrame:
    """One row per customer: id, status and its identities as a list of channel:external_id."""
    return store.frame(
        f"""SELECT c.customer_id, c.status, c.merged_into,
               coalesce((SELECT {_KEYS} FROM identities i WHERE i.customer_id = c.customer_id), [])
                   AS identities
        FROM customers c ORDER BY c.customer_id"""
    )


def identity_keys(store: Store) -> pl.DataFrame:
    """identity_id, customer_id, channel, external_id of every identity (for evaluation against a truth)."""
    return store.frame(
        "SELECT identity_id, customer_id, channel, external_id FROM identities ORDER BY identity_id"
    )
