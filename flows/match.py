"""The `match` flow: load identities from the store, run the matching engine, save suggestions.

Steps: load (store, short) -> prepare (frame statistics and blocking) -> score: one task per
candidate-pair partition (hash of the left identity, `settings.dask.partitions`), mapped on
the flow's task runner (threads here, or a Dask cluster: `match_flow_on(address)`) ->
finish (EM on the gathered comparison levels, weights, customer-level suggestions) -> save
(the only step that writes the store). The partitioned result equals the single run's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from prefect import Flow, flow, get_run_logger, task, unmapped
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from domain.errors import ConfigurationError
from domain.settings import DaskSettings, Settings
from flows.common import explained, markdown_table, retry_when_busy, run_settings
from flows.progress import current as progress
from matching import ConfigError, MatchConfig, MatchResult
from matching.comparisons import Levels
from matching.engine import (
    Prepared,
    finish,
    gather_levels,
    partition,
    partition_payload,
    prepare,
    score_partition,
)
from matching.frequency import Frame
from matching.run_config import run_record
from store import attributes as store_attributes
from store import labels as store_labels
from store import match_runs, open_store, utcnow

_KNOWN = {"identity_id", "customer_id", "channel", "external_id"}


class MatchConfigurationError(ConfigurationError, RuntimeError):
    """The [match] configuration cannot run on this store (e.g. it reads a column no identity holds)."""


@dataclass
class MatchInput:
    """What a run reads from the store."""

    identities: pl.DataFrame
    changed: pl.Series
    excluded: pl.Series
    model: dict[str, Any] | None
    # agents' decisions as labelled identity pairs (store/labels.py), in decision order
    labels: pl.DataFrame | None = None


def extra_columns(config: MatchConfig) -> list[str]:
    """Configured columns that are not store columns: extra attributes read from `extra`."""
    from matching.attributes import extra_columns as configured_extras

    return configured_extras(config)


def match_columns(config: MatchConfig) -> list[str]:
    """The store columns the engine reads: compared, blocked on, shown as evidence, composite parts, source."""
    wanted: set[str] = set(config.read_columns())
    available = set(match_runs.MATCH_COLUMNS)
    for comp in config.active_comparisons():
        wanted |= set(comp.display_columns(available))
    for parts in config.composite_columns.values():
        wanted |= set(parts)
    wanted.add(config.source_column)
    return sorted(wanted & available)


def check_fill(
    store_path: str, busy_timeout_s: float, config: MatchConfig, identities: pl.DataFrame
) -> list[str]:
    """Warnings for sparse extra attributes; a configured column no identity holds is a ConfigError."""
    from matching.attributes import column_fill, fill_problems

    if identities.height == 0:
        return []
    fills = column_fill(identities, config)
    errors, warnings = fill_problems(config, fills)
    if errors:  # list what the store does hold (one short read, only when something is wrong)
        with open_store(Path(store_path), busy_timeout_s=busy_timeout_s, read_only=True) as store:
            available = store_attributes.available_columns(store)
        errors, warnings = fill_problems(config, fills, available)
        raise ConfigError("; ".join(errors))
    return warnings


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def load_task(
    store_path: str, busy_timeout_s: float, extras: list[str], columns: list[str] | None = None
) -> MatchInput:
    """Read eligible identities, the changed ids, excluded customers and the latest model."""
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        identities, changed, excluded = match_runs.load_match_input(store, extras, columns)
        return MatchInput(
            identities,
            changed,
            excluded,
            match_runs.latest_model(store).model,
            store_labels.training_labels(store),
        )


def labels_for_run(labels: pl.DataFrame | None, config_id: str | None) -> pl.DataFrame | None:
    """The labels a run learns from: stored comparison levels kept only where the configuration is
    the one they were scored with (every other label is compared again by the engine)."""
    if labels is None or labels.height == 0:
        return None
    same = pl.col("config_id").is_not_null() & (pl.col("config_id") == pl.lit(config_id))
    return labels.with_columns(pl.when(same).then(pl.col("levels")).otherwise(None).alias("levels")).drop(
        "config_id"
    )


@task(cache_policy=NO_CACHE)
def prepare_task(
    data: MatchInput, config: MatchConfig, full: bool, labels: pl.DataFrame | None = None
) -> Prepared:
    """Frame statistics and blocking: the candidate pairs to score."""
    return prepare(
        data.identities,
        config,
        changed_ids=None if full else data.changed,
        model=None if full else data.model,
        excluded_customer_ids=data.excluded,
        labels=labels,
    )


@task(cache_policy=NO_CACHE)
def score_task(frame: Frame, config: MatchConfig, left: Any, right: Any) -> list[Levels]:
    """Comparison levels of one partition of candidate pairs (runs on a Dask worker when configured)."""
    return score_partition(frame, config, left, right)


@task(cache_policy=NO_CACHE)
def finish_task(prepared: Prepared, levels: list[Levels]) -> MatchResult:
    """Fit or reuse the model on the gathered levels and build customer-level suggestions."""
    return finish(prepared, levels)


def score_partitions(prepared: Prepared, partitions: int) -> list[Levels]:
    """Map score_task over the candidate partitions on the flow's task runner and gather in order."""
    positions = partition(prepared, partitions)
    context = FlowRunContext.get()
    if context is not None and isinstance(context.task_runner, ThreadPoolTaskRunner):
        # threads share the flow's memory: every task reads the one prepared frame
        cand = prepared.cand
        futures = score_task.map(
            unmapped(prepared.frame),
            unmapped(prepared.config),
            [cand.left[pos] for pos in positions],
            [cand.right[pos] for pos in positions],
        )
    else:
        # elsewhere (Dask) each task is sent only its pairs' rows with the statistics they need
        payloads = [partition_payload(prepared, pos) for pos in positions]
        futures = score_task.map(
            [frame for frame, _, _ in payloads],
            unmapped(prepared.config),
            [left for _, left, _ in payloads],
            [right for _, _, right in payloads],
        )
    parts = [future.result() for future in futures]
    return gather_levels(parts, positions, len(prepared.cand.left))


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def save_task(
    store_path: str,
    busy_timeout_s: float,
    result: MatchResult | None,
    mode: str,
    started: datetime,
    scored_ids: pl.Series,
    identities_total: int,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Record the run (with its effective configuration) and upsert suggestions in one transaction."""
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        if result is None:
            note = "no identities changed since the last run"
            return match_runs.record_empty_run(
                store, mode, started, utcnow(), identities_total, note, config=config
            )
        return match_runs.save_match_result(
            store,
            result,
            mode,
            started,
            utcnow(),
            scored_ids=scored_ids,
            identities_total=identities_total,
            config=config,
        )


def _publish(summary: dict[str, Any], result: MatchResult | None) -> None:
    lines = [
        f"# Match run {summary['run_id']} ({summary['mode']})",
        f"{summary['identities_total']} identities, {summary['identities_scored']} scored, "
        f"{summary['pairs_compared']} pairs compared; suggestions: {summary['suggestions_new']} new, "
        f"{summary['suggestions_updated']} updated, {summary['suggestions_reopened']} reopened.",
    ]
    if summary.get("note"):
        lines += ["", summary["note"]]
    rule_rows = result.rule_counts.to_dicts() if result is not None else []
    if rule_rows:
        columns = list(rule_rows[0])
        lines += [
            "",
            "## Pairs per blocking rule",
            markdown_table(columns, [list(r.values()) for r in rule_rows]),
        ]
        create_table_artifact(key="match-rules", table=rule_rows, description="Pairs per blocking rule")
    bands = [[band, count] for band, count in summary["band_counts"].items()]
    lines += ["", "## Suggestions per band", markdown_table(["band", "suggestions"], bands)]
    create_table_artifact(
        key="match-bands",
        table=[{"band": b, "suggestions": c} for b, c in bands],
        description="Suggestions per band",
    )
    timings = [[step, f"{seconds:.3f}"] for step, seconds in summary["timings"].items()]
    lines += ["", "## Timings (s)", markdown_table(["step", "seconds"], timings)]
    if summary["notes"]:
        lines += ["", "## Notes", *[f"- {note}" for note in summary["notes"]]]
    create_markdown_artifact(key="match-summary", markdown="\n".join(lines), description="Match run summary")


def task_runner_for(dask: DaskSettings) -> TaskRunner[Any]:
    """The task runner that scores partitions: Dask at `dask.address` when configured, else threads here."""
    if not dask.address:
        return ThreadPoolTaskRunner()
    from prefect_dask import DaskTaskRunner

    return DaskTaskRunner(address=dask.address)  # type: ignore[no-any-return]


# Threads by default; `match_flow_on(address)` scores on a Dask cluster. Scheduled runs (`idres serve`,
# a worker of `prefect.yaml`) load this flow by its entrypoint and resolve their settings at run time:
# with `[dask] address` (idres.toml or IDRES_DASK__ADDRESS) they hand the run to `match_flow_on`.
@flow(name="match", log_prints=False)
def match_flow(
    store: str | None = None, full: bool = False, settings: Settings | None = None
) -> dict[str, Any]:
    """Match identities into suggestions: all of them (`full`) or only those changed since the last run."""
    logger = get_run_logger()
    settings = run_settings(settings, store)
    if settings.dask.address and _on_threads():
        # this run was started without a runner of its own (e.g. by a schedule): score on the cluster
        return match_flow_on(settings.dask.address)(store=store, full=full, settings=settings)
    try:
        config = MatchConfig.from_settings(settings.match)
    except ConfigError as error:
        raise MatchConfigurationError(
            f"bad matching configuration (fix idres.toml [match]): {error}"
        ) from error
    started = utcnow()
    mode = "full" if full else "incremental"
    progress().phase("loading identities")
    with explained("loading identities to match", settings.store):
        data = load_task(
            str(settings.store), settings.store_busy_timeout_s, extra_columns(config), match_columns(config)
        )
    total = data.identities.height
    try:
        warnings = check_fill(str(settings.store), settings.store_busy_timeout_s, config, data.identities)
    except ConfigError as error:
        raise MatchConfigurationError(
            f"bad matching configuration (fix idres.toml [match]): {error}"
        ) from error
    for warning in warnings:
        logger.warning(warning)
    result: MatchResult | None = None
    record = run_record(settings, settings.origin.file, settings.origin.environment)
    if full or data.changed.len():
        progress().phase("blocking")
        try:
            prepared = prepare_task(data, config, full, labels_for_run(data.labels, record.get("config_id")))
        except ConfigError as error:
            raise MatchConfigurationError(f"bad matching configuration: {error}") from error
        progress().phase("comparing pairs")
        began = time.perf_counter()
        levels = score_partitions(prepared, settings.dask.partitions)
        prepared.timings["comparisons"] = time.perf_counter() - began
        progress().phase("scoring and suggestions")
        result = finish_task(prepared, levels)
        scored = data.identities.get_column("identity_id") if full else data.changed
    else:
        logger.info("no identities changed since the last match run: nothing to score")
        scored = data.changed
    progress().phase("saving suggestions")
    with explained("saving suggestions", settings.store):
        summary = save_task(
            str(settings.store),
            settings.store_busy_timeout_s,
            result,
            mode,
            started,
            scored,
            total,
            record,
        )
    summary["mode"] = mode
    summary["timings"] = dict(result.timings) if result is not None else {}
    summary["notes"] = list(result.notes) if result is not None else []
    summary["labels"] = dict(result.model.labels) if result is not None else {}
    if result is not None and not full and result.model.labels:
        before = (data.model or {}).get("labels") or {}
        if before.get("labels") != result.model.labels.get("labels"):
            summary["notes"].append(
                "new decisions changed the learned weights; this incremental run re-scored only the "
                "changed identities' pairs: `idres match --full` re-scores every pair with them"
            )
    summary["warnings"] = warnings
    logger.info(
        "match run %s (%s): %s pairs, %s new, %s updated, %s reopened suggestions",
        summary["run_id"],
        mode,
        summary["pairs_compared"],
        summary["suggestions_new"],
        summary["suggestions_updated"],
        summary["suggestions_reopened"],
    )
    _publish(summary, result)
    return summary


def _on_threads() -> bool:
    """Whether this flow run scores on threads in this process (not on a Dask cluster)."""
    context = FlowRunContext.get()
    return context is None or isinstance(context.task_runner, ThreadPoolTaskRunner)


def match_flow_on(address: str | None) -> Flow[..., dict[str, Any]]:
    """The match flow, scoring its partitions on the Dask scheduler at `address` (None: in this process)."""
    if not address:
        return match_flow
    # DaskTaskRunner's futures subclass PrefectFuture; the stub's invariant generic rejects it
    return match_flow.with_options(task_runner=task_runner_for(DaskSettings(address=address)))  # type: ignore[arg-type]
