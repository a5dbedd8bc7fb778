"""The `ingest` flow: read, normalize, validate and load channel exports into the store."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from compliance.interrupt import StopFlag, stop_on_interrupt
from domain.settings import ComplianceSettings, IngestSettings, Settings
from domain.statuses import BatchStatus
from flows.common import (
    STORE_RETRIES,
    STORE_RETRY_DELAYS_S,
    StoreBusyFailure,
    explained,
    markdown_table,
    retry_when_busy,
    run_settings,
)
from flows.progress import current as progress
from ingest.landing import Snapshot, archive, changed_since, landed_files, waiting_reason
from ingest.pipeline import (
    FileReport,
    Prepared,
    ProfileRebuilder,
    already_loaded,
    data_docs_once,
    describe_counts,
    load,
    order_inputs,
    prepare_files,
    write_failure_reason,
)
from ingest.read import InputFileError, RawFile, read_file
from review.merging import profile_rebuilder
from store import Store, open_store
from store.quarantine import relocate_batch_file

_BAD_INPUT_HINT = "fix the file and drop it in again (rows that failed validation: `idres quarantine list`)"
_STOPPING = "stopping after the file at hand (it is loaded whole or not at all); Ctrl-C again to stop now"


@task(
    cache_policy=NO_CACHE,
    retries=STORE_RETRIES,
    retry_delay_seconds=STORE_RETRY_DELAYS_S,
    retry_condition_fn=retry_when_busy,
)
def recognise_task(store_path: str, busy_timeout_s: float, compliance: ComplianceSettings) -> int:
    """Recognise (by keyed hash) new identities of people erased before; they stay new customers."""
    from compliance.runner import recognise_after_ingest

    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        return recognise_after_ingest(store, compliance)


def channel_counts(prepared: Prepared, report: FileReport) -> dict[str, dict[str, int]]:
    """Rows read, loaded and quarantined per channel of one file (loaded is 0 for a file seen before)."""
    frame = prepared.raw.frame.select("row_number", pl.col("channel").fill_null("(none)"))
    quarantined = prepared.outcome.quarantined.select("row_number").join(frame, on="row_number", how="inner")
    counts: dict[str, dict[str, int]] = {}
    for channel, read in frame.group_by("channel").len().iter_rows():
        counts.setdefault(channel, {"read": 0, "loaded": 0, "quarantined": 0})["read"] = read
    for channel, bad in quarantined.group_by("channel").len().iter_rows():
        counts.setdefault(channel, {"read": 0, "loaded": 0, "quarantined": 0})["quarantined"] = bad
    for channel, actions in report.per_channel.items():
        counts.setdefault(channel, {"read": 0, "loaded": 0, "quarantined": 0})["loaded"] = sum(
            actions.values()
        )
    return counts


def _add_counts(totals: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    for channel, values in counts.items():
        row = totals.setdefault(channel, {"read": 0, "loaded": 0, "quarantined": 0})
        for name, value in values.items():
            row[name] += value


def _publish(reports: list[FileReport], per_channel: dict[str, dict[str, int]]) -> None:
    columns = [
        "file",
        "kind",
        "status",
        "read",
        "loaded",
        "new",
        "updated",
        "quarantined",
        "warnings",
        "detected",
    ]
    rows = [
        [
            Path(r.path).name,
            r.kind,
            r.status,
            r.rows_read,
            r.rows_loaded,
            r.rows_new,
            r.rows_updated,
            r.rows_quarantined,
            sum(r.warnings.values()),
            r.detected,
        ]
        for r in reports
    ]
    reasons = [
        [Path(r.path).name, "quarantined", reason, count]
        for r in reports
        for reason, count in r.quarantine_reasons.items()
    ] + [
        [Path(r.path).name, "loaded with a bad optional value", field, count]
        for r in reports
        for field, count in r.warnings.items()
    ]
    channel_rows: dict[str, dict[str, int]] = {}
    for report in reports:
        for channel, actions in report.per_channel.items():
            totals = channel_rows.setdefault(channel, {})
            for action, count in actions.items():
                totals[action] = totals.get(action, 0) + count
    failed = [r for r in reports if r.status == "failed"]
    summary = [
        "# Ingest",
        f"{len(reports)} file(s): {sum(r.rows_read for r in reports)} rows read, "
        f"{sum(r.rows_loaded for r in reports)} loaded, {sum(r.rows_quarantined for r in reports)} quarantined, "
        f"{len(failed)} file(s) failed.",
        "",
        markdown_table(columns, rows),
    ]
    if channel_rows:
        summary += [
            "",
            "## Per channel",
            markdown_table(
                ["channel", "new", "updated", "unchanged", "stale"],
                [
                    [c, a.get("new", 0), a.get("updated", 0), a.get("unchanged", 0), a.get("stale", 0)]
                    for c, a in sorted(channel_rows.items())
                ],
            ),
        ]
    if reasons:
        summary += [
            "",
            "## Quarantine reasons and warnings",
            "Warnings are rows loaded with the raw value kept and the normalized value left empty.",
            "",
            markdown_table(["file", "outcome", "reason or field", "rows"], reasons),
        ]
    if failed:
        summary += ["", "## Failed files", *[f"- {r.error}" for r in failed]]
    create_markdown_artifact(
        key="ingest-summary", markdown="\n".join(summary), description="Ingest run summary"
    )
    create_table_artifact(
        key="ingest-files",
        table=[dict(zip(columns, row, strict=True)) for row in rows],
        description="Rows read, loaded and quarantined per file",
    )
    create_table_artifact(
        key="ingest-warnings",
        table=[
            dict(zip(["file", "outcome", "reason_or_field", "rows"], row, strict=True)) for row in reasons
        ],
        description="Quarantine reasons and loaded rows with a bad optional value, per file",
    )
    create_table_artifact(
        key="ingest-channels",
        table=[{"channel": channel, **values} for channel, values in sorted(per_channel.items())],
        description="Rows read, loaded and quarantined per channel",
    )


# a run reads, validates and loads its files in groups of about this many bytes: GX validates a group
# in one run (its fixed cost paid once), and memory holds one group, not the whole landing folder
GROUP_BYTES = 256 * 1024 * 1024


@dataclass
class _Checked:
    """A file read and validated, with the snapshot taken before it was read."""

    path: Path
    before: Snapshot
    prepared: Prepared


def _failed(path: Path, error: BaseException) -> FileReport:
    """The report of a file that could not be read or checked (nothing of it is written)."""
    logger = get_run_logger()
    if isinstance(error, InputFileError):
        logger.error("bad input, file skipped (fix it and drop it in again): %s", error)
        return FileReport(path=str(path), status="failed", error=str(error))
    # RecursionError, a polars error, ...: this file's failure, not the run's (logged with its traceback)
    logger.error("%s: could not be read, file skipped", path.name, exc_info=error)
    return FileReport(path=str(path), status="failed", error=f"{path}: {type(error).__name__}: {error}")


@task(cache_policy=NO_CACHE)
def check_task(
    paths: list[str], settings: IngestSettings, kind: str | None, channel: str | None
) -> list[_Checked | FileReport]:
    """Read, normalize and validate files (validated together, in one GX run); a bad file gets its report."""
    began = time.perf_counter()
    results: list[_Checked | FileReport | None] = [None] * len(paths)
    read: list[tuple[int, Snapshot, RawFile]] = []
    for index, name in enumerate(paths):
        path = Path(name)
        try:
            before = Snapshot.of(path)
            raw = read_file(path, settings, kind=kind, channel=channel)
        except Exception as error:
            results[index] = _failed(path, error)
            continue
        if changed_since(path, before):
            # a writer was still at it: what was read may be a part of the file; nothing is written
            get_run_logger().warning(
                "%s changed while it was read: not loaded, left for the next run", path.name
            )
            results[index] = FileReport(
                path=str(path), status="changed", error=f"{path}: changed while it was read"
            )
            continue
        read.append((index, before, raw))
    prepared = prepare_files([raw for _, _, raw in read], settings)
    for (index, before, raw), outcome in zip(read, prepared, strict=True):
        if isinstance(outcome, Exception):
            results[index] = _failed(raw.path, outcome)
        else:
            results[index] = _Checked(raw.path, before, outcome)
    # the files' share of the check, for their reports' seconds
    share = (time.perf_counter() - began) / max(len(paths), 1)
    for result in results:
        if isinstance(result, FileReport):
            result.seconds = round(share, 3)
    return [result for result in results if result is not None]


@task(
    cache_policy=NO_CACHE,
    retries=STORE_RETRIES,
    retry_delay_seconds=STORE_RETRY_DELAYS_S,
    retry_condition_fn=retry_when_busy,
)
def load_task(
    settings: Settings,
    checked: list[_Checked | FileReport],
    stop: StopFlag,
    per_channel: dict[str, dict[str, int]],
    from_landing: bool,
) -> list[FileReport]:
    """Load the checked files in order, each in its own transaction, through one store connection.

    Files seen before are `unchanged`. From the landing folder each file is archived right after its
    load (processed/ or failed/, its batch and quarantine rows pointing there). Once `stop` is
    requested, no other file is started.
    """
    reports: list[FileReport] = []
    rebuild = profile_rebuilder(settings.review)
    # the store is opened once for the run (not per file): no busy error can come after this point
    with open_store(settings.store, busy_timeout_s=settings.store_busy_timeout_s) as store:
        store.checkpoint_at_close()
        for item in checked:
            if isinstance(item, FileReport):
                reports.append(_archived(item, Path(item.path), settings, store) if from_landing else item)
                progress().advance(Path(item.path).name)
                continue
            if stop.requested:
                reports.append(_not_started(item.path, stop))
                continue
            began = time.perf_counter()
            report = _load_one(store, item, rebuild, settings, per_channel)
            if from_landing:
                report = _archived(report, item.path, settings, store)
            report.seconds = round(report.seconds + time.perf_counter() - began, 3)
            reports.append(report)
            progress().advance(item.path.name)
    return reports


def _load_one(
    store: Store,
    item: _Checked,
    rebuild: ProfileRebuilder,
    settings: Settings,
    per_channel: dict[str, dict[str, int]],
) -> FileReport:
    """Load one checked file (all or nothing); any failure of it is its own (named, never the run's)."""
    logger = get_run_logger()
    path, prepared = item.path, item.prepared
    try:
        with explained(f"loading {path.name}", settings.store, _BAD_INPUT_HINT):
            report = already_loaded(store, prepared.raw) or load(store, prepared, rebuild)
    except StoreBusyFailure:
        raise  # not this file's fault: it stays in the landing folder for the next run
    except Exception as error:
        logger.error("%s: not loaded (nothing written): %s", path.name, error)
        return FileReport(path=str(path), status="failed", error=f"{path}: {type(error).__name__}: {error}")
    _add_counts(per_channel, channel_counts(prepared, report))
    if report.rows_quarantined:
        logger.warning(
            "%s: %d row(s) quarantined (%s): see `idres quarantine list --batch %s`",
            path.name,
            report.rows_quarantined,
            describe_counts(report.quarantine_reasons),
            report.batch_id,
        )
    if report.warnings:
        logger.warning(
            "%s: %d row(s) loaded with a bad optional value, raw kept and not normalized (%s)",
            path.name,
            sum(report.warnings.values()),
            describe_counts(report.warnings),
        )
    logger.info(
        "%s: %s, %d read, %d loaded, %d quarantined",
        path.name,
        report.status,
        report.rows_read,
        report.rows_loaded,
        report.rows_quarantined,
    )
    if changed_since(path, item.before):
        report.error = f"{path}: changed after it was read: left in the landing folder for the next run"
        logger.warning("%s", report.error)
    return report


def _archived(report: FileReport, path: Path, settings: Settings, store: Store) -> FileReport:
    """Move a landing file to processed/ or failed/ (with its reason); its batch follows it in the store.

    A file that changed while or after it was read (loaded, with that error) stays for the next run.
    """
    if report.status == "changed" or (report.ok and report.error is not None):
        return report
    archived = archive(path, settings.ingest.landing_dir, report.ok)
    if not report.ok:
        write_failure_reason(archived, report)
    if report.batch_id is not None:  # the batch and its quarantine rows follow the file
        relocate_batch_file(store, report.batch_id, str(archived))
    report.archived_to = str(archived)
    return report


def _groups(paths: list[Path]) -> list[list[Path]]:
    """The files in order, cut into groups of about GROUP_BYTES (a bigger file is a group of its own)."""
    groups: list[list[Path]] = []
    size = 0
    for path in paths:
        try:
            length = path.stat().st_size
        except OSError:
            length = 0
        if not groups or (groups[-1] and size + length > GROUP_BYTES):
            groups.append([])
            size = 0
        groups[-1].append(path)
        size += length
    return groups


def _not_started(path: Path, stop: StopFlag) -> FileReport:
    """The report of a file the run did not start because it was asked to stop."""
    return FileReport(
        path=str(path),
        status=BatchStatus.INTERRUPTED,
        error=f"{path}: not started, the run was stopped ({stop.signal_name}): run the command again",
    )


def _landing_inputs(settings: Settings, reports: list[FileReport]) -> list[Path]:
    """The complete files of the landing folder; the others are reported as waiting."""
    settings.ingest.landing_dir.mkdir(parents=True, exist_ok=True)  # a missing folder is an empty one
    ready = []
    for path in order_inputs(landed_files(settings.ingest.landing_dir)):
        reason = waiting_reason(path, settings.ingest.landing_settle_s, settings.ingest.landing_require_ready)
        if reason is None:
            ready.append(path)
        else:
            get_run_logger().info("%s: not complete yet, left for the next run: %s", path.name, reason)
            reports.append(FileReport(path=str(path), status="waiting", error=reason))
    return ready


@flow(name="ingest", log_prints=False)
def ingest_flow(
    paths: list[str] | None = None,
    store: str | None = None,
    kind: str | None = None,
    channel: str | None = None,
    preset: str | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Ingest the given files or folders, or the complete files of the landing folder when none are given."""
    logger = get_run_logger()
    settings = run_settings(settings, store)
    if preset:  # --preset wins over `[ingest] preset` (a copy: the caller's settings stay as they are)
        settings = settings.model_copy(
            update={"ingest": settings.ingest.model_copy(update={"preset": preset})}
        )
    from_landing = not paths
    reports: list[FileReport] = []
    inputs = (
        _landing_inputs(settings, reports) if from_landing else order_inputs([Path(p) for p in paths or []])
    )
    per_channel: dict[str, dict[str, int]] = {}
    progress().start("files", total=len(inputs))
    # Ctrl-C or SIGTERM: the file at hand is finished, the others are not started (and stay in the
    # landing folder), the run reports what it did
    with data_docs_once(settings.ingest), stop_on_interrupt(message=_STOPPING) as stop:
        for group in _groups(inputs):
            if stop.requested:
                reports += [_not_started(path, stop) for path in group]
                continue
            checked = check_task([str(path) for path in group], settings.ingest, kind, channel)
            reports += load_task(settings, checked, stop, per_channel, from_landing)
    if stop.requested:
        skipped = [r for r in reports if r.status == BatchStatus.INTERRUPTED]
        logger.warning("stopped (%s): %d file(s) not started", stop.signal_name, len(skipped))
    if from_landing:  # kept copies of ingested files are not kept past their retention period
        from compliance.landing import purge_expired

        purge_expired(settings.ingest.landing_dir, settings.compliance.landing_copies_retention_days)
    if any(report.rows_new for report in reports):
        reappeared = recognise_task(str(settings.store), settings.store_busy_timeout_s, settings.compliance)
        if reappeared:
            logger.info("%d new identities came back after an erasure: loaded as new customers", reappeared)
    _publish(reports, per_channel)
    return [report.to_dict() for report in reports]
