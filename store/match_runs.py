"""The match_runs table: what a match run read (the matching input), what it recorded, its model.

`save_match_result` writes one run atomically: its match_runs row, its pairs (`store.suggestions`)
and the scored identities' match_pending flags (`store.identities`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import polars as pl

from domain.columns import IDENTITY_KEY_COLUMNS, NORMALIZED_IDENTITY_COLUMNS, RAW_IDENTITY_COLUMNS
from domain.statuses import CustomerStatus, RunStatus
from store import identities, suggestions
from store.db import Store

SUCCEEDED = RunStatus.SUCCEEDED
ELIGIBLE = f"""FROM identities i JOIN customers c ON c.customer_id = i.customer_id
    WHERE c.status = '{CustomerStatus.ACTIVE}' AND NOT c.locked AND NOT i.anonymized AND c.anonymized_at IS NULL"""


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
        {ELIGIBLE} ORDER BY i.identity_id"""
    )
    changed = identities.filter(pl.col("match_pending")).get_column("identity_id").rename("identity_id")
    excluded = store.frame(
        f"SELECT customer_id FROM customers WHERE locked OR status <> '{CustomerStatus.ACTIVE}' ORDER BY customer_id"
    ).get_column("customer_id")
    return identities.drop("match_pending"), changed, excluded


class LatestModel(NamedTuple):
    """The model of the latest successful match run that recorded one, and that run (both None before any)."""

    run_id: int | None
    model: dict[str, Any] | None


def latest_model(store: Store) -> LatestModel:
    """The model (as a dict) of the latest successful match run that fitted or used one, with its run id."""
    rows = store.rows(
        "SELECT run_id, model FROM match_runs WHERE status = ? AND model IS NOT NULL ORDER BY run_id DESC LIMIT 1",
        [SUCCEEDED],
    )
    if not rows:
        return LatestModel(None, None)
    model = rows[0]["model"]
    return LatestModel(int(rows[0]["run_id"]), json.loads(model) if isinstance(model, str) else model)


def _store_band(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(
        pl.when((pl.col("band") == "below") & pl.col("related_only"))
        .then(pl.lit("related"))
        .otherwise(pl.col("band"))
        .alias("band"),
        pl.col("rule").cast(pl.String),
        pl.col("evidence").cast(pl.String),
    )


def _insert_run(store: Store, run: dict[str, Any], config: dict[str, Any] | None = None) -> None:
    if config is not None:  # the effective configuration of the run (matching/run_config.py run_record)
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
    incoming = _store_band(
        result.suggestions.select("customer_id_l", "customer_id_r", *suggestions.RUN_COLUMNS)
    )
    band_counts = {row["band"]: row["len"] for row in incoming.group_by("band").len().sort("band").to_dicts()}
    with store.transaction():
        run_id = store.next_id("match_runs", "run_id")
        actions, superseded = suggestions.save_run_pairs(store, incoming, run_id, mode, now)
        scored = identities.clear_match_pending(store, scored_ids, started)
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
