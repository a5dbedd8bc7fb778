"""SQL for `idres report`: what the store did over time (match runs, suggestions, merges, requests).

Every function reads only and returns plain polars frames or dicts; an empty store gives empty frames
with the documented columns, so the report can always be drawn.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from domain.statuses import CustomerStatus, MergeStatus, SuggestionStatus
from store.db import Store

# a suggestion leaves the review backlog when decided, or when a match run supersedes it
_LEFT_BACKLOG = (
    f"coalesce(s.decided_at, CASE WHEN s.status = '{SuggestionStatus.SUPERSEDED}' THEN s.updated_at END)"
)


def _table_exists(store: Store, table: str) -> bool:
    return bool(store.scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [table]))


def headline_counts(store: Store) -> dict[str, Any]:
    """Counts for the report header: identities, customers, runs, suggestions by status, merges, requests."""
    counts: dict[str, Any] = {
        "identities": store.scalar("SELECT count(*) FROM identities"),
        "active customers": store.scalar(
            f"SELECT count(*) FROM customers WHERE status = '{CustomerStatus.ACTIVE}'"
        ),
        "match runs": store.scalar("SELECT count(*) FROM match_runs"),
    }
    for row in store.rows("SELECT status, count(*) AS n FROM suggestions GROUP BY status ORDER BY status"):
        counts[f"suggestions {row['status']}"] = row["n"]
    if _table_exists(store, "merges"):
        counts["merges applied"] = store.scalar(
            "SELECT count(*) FROM merges WHERE status = ?", [MergeStatus.APPLIED]
        )
        counts["merges undone"] = store.scalar(
            "SELECT count(*) FROM merges WHERE status = ?", [MergeStatus.UNDONE]
        )
    if _table_exists(store, "compliance_requests"):
        for row in store.rows(
            "SELECT kind, status, count(*) AS n FROM compliance_requests GROUP BY ALL ORDER BY kind, status"
        ):
            counts[f"{row['kind']} requests {row['status']}"] = row["n"]
    return counts


def suggestion_probabilities(store: Store) -> pl.DataFrame:
    """probability, band, status of every suggestion (for the distribution plot)."""
    return store.frame(
        "SELECT probability, band, status FROM suggestions ORDER BY suggestion_id"
    ).with_columns(pl.col("probability").cast(pl.Float64))


def rule_counts_by_run(store: Store) -> pl.DataFrame:
    """run_id, started_at, mode, rule, pairs, new_pairs: candidate pairs per blocking rule per run."""
    records: list[dict[str, Any]] = []
    for run in store.rows(
        "SELECT run_id, started_at, mode, rule_counts FROM match_runs "
        "WHERE status = 'succeeded' ORDER BY run_id"
    ):
        for rule in json.loads(run["rule_counts"] or "[]"):
            records.append(
                {
                    "run_id": run["run_id"],
                    "started_at": run["started_at"],
                    "mode": run["mode"],
                    "rule": str(rule.get("rule")),
                    "pairs": int(rule.get("pairs") or 0),
                    "new_pairs": int(rule.get("new_pairs") or 0),
                }
            )
    schema = {
        "run_id": pl.Int64,
        "started_at": pl.Datetime,
        "mode": pl.String,
        "rule": pl.String,
        "pairs": pl.Int64,
        "new_pairs": pl.Int64,
    }
    return pl.DataFrame(records, schema=schema)


def review_backlog_by_day(store: Store) -> pl.DataFrame:
    """day, created, decided, pending: suggestions made and decided that day, and the backlog at its end."""
    return store.frame(
        f"""WITH bounds AS (
            SELECT min(CAST(created_at AS DATE)) AS first_day,
                   greatest(max(CAST(created_at AS DATE)), max(CAST({_LEFT_BACKLOG} AS DATE))) AS last_day
            FROM suggestions s WHERE NOT s.related_only
        ), days AS (
            SELECT CAST(d AS DATE) AS day
            FROM bounds, generate_series(bounds.first_day, bounds.last_day, INTERVAL 1 DAY) AS g(d)
            WHERE bounds.first_day IS NOT NULL
        )
        SELECT days.day,
               count(*) FILTER (WHERE CAST(s.created_at AS DATE) = days.day) AS created,
               count(*) FILTER (WHERE CAST(s.decided_at AS DATE) = days.day) AS decided,
               count(*) FILTER (WHERE CAST(s.created_at AS DATE) <= days.day
                                AND ({_LEFT_BACKLOG} IS NULL OR CAST({_LEFT_BACKLOG} AS DATE) > days.day))
                   AS pending
        FROM days LEFT JOIN suggestions s ON NOT s.related_only
        GROUP BY days.day ORDER BY days.day"""
    )


def review_backlog_by_run(store: Store) -> pl.DataFrame:
    """run_id, finished_at, pending, decided: the backlog right after each match run."""
    return store.frame(
        f"""SELECT r.run_id, r.finished_at,
               count(s.suggestion_id) FILTER (WHERE {_LEFT_BACKLOG} IS NULL OR {_LEFT_BACKLOG} > r.finished_at)
                   AS pending,
               count(s.suggestion_id) FILTER (WHERE s.decided_at <= r.finished_at) AS decided
        FROM match_runs r
        LEFT JOIN suggestions s ON NOT s.related_only AND s.created_at <= r.finished_at
        WHERE r.finished_at IS NOT NULL
        GROUP BY r.run_id, r.finished_at ORDER BY r.run_id"""
    )


def apply_runs(store: Store) -> pl.DataFrame:
    """apply_run_id, started_at, actor, status, approved_seen, merges_applied, held_back, superseded."""
    if not _table_exists(store, "merge_runs"):
        return pl.DataFrame()
    return store.frame(
        "SELECT apply_run_id, started_at, actor, status, approved_seen, merges_applied, held_back, superseded "
        "FROM merge_runs ORDER BY apply_run_id"
    )


def match_run_configs(store: Store) -> pl.DataFrame:
    """run_id, started_at, mode, config_id, file, link_type, set (values the file or environment set)."""
    rows = store.rows(
        "SELECT run_id, started_at, mode, config_id, CAST(config AS VARCHAR) AS config FROM match_runs ORDER BY run_id"
    )
    out = []
    for row in rows:
        config = json.loads(row["config"]) if row["config"] else {}
        changed = config.get("set") or {}
        out.append(
            {
                "run_id": row["run_id"],
                "started_at": row["started_at"],
                "mode": row["mode"],
                "config_id": row["config_id"] or "(not recorded)",
                "file": config.get("file") or "",
                "link_type": (config.get("match") or {}).get("link_type", ""),
                "set": ", ".join(f"{key} ({source})" for key, source in sorted(changed.items())),
            }
        )
    schema = {
        "run_id": pl.Int64,
        "started_at": pl.Datetime,
        "mode": pl.String,
        "config_id": pl.String,
        "file": pl.String,
        "link_type": pl.String,
        "set": pl.String,
    }
    return pl.DataFrame(out, schema=schema)


def match_run_config(store: Store, run_id: int) -> dict[str, Any] | None:
    """The configuration one match run recorded (None for runs before it was recorded)."""
    value = store.scalar("SELECT CAST(config AS VARCHAR) FROM match_runs WHERE run_id = ?", [run_id])
    return None if value is None else dict(json.loads(value))
