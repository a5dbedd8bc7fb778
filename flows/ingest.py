"""The `ingest` flow: read, normalize, validate and load channel exports into the store."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.utilities.annotations import quote

from compliance.interrupt import StopFlag, stop_on_interrupt
from domain.settings import ComplianceSettings, IngestSettings, Settings
from domain.statuses import BatchStatus
from flows.common import (
    STORE_RETRIES,
    STORE_RETRY_DELAYS_S,
    StoreBusyFailure,
    explained,
    retry_when_busy,
    run_settings,
)
from flows.ingest_summary import add_counts, channel_counts, publish
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
    load_jointly,
    order_inputs,
    prepare_files,
    write_failure_reason,
)
from ingest.read import InputFileError, RawFile, read_file
from review.merging import profile_rebuilder
from store import Store, open_store
from store.quarantine import relocate_batch_file

_BAD_INPUT_HINT = "fix the file and drop it in again (rows that failed validation: `idres quarantine list`)"
# a checked file's report that no load made (it failed, or the run stopped before it)
_NOT_LOADED = (BatchStatus.FAILED, BatchStatus.INTERRUPTED)
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


# files read at once by a group's check: polars parses without holding the GIL, and one small file
# keeps a core busy only part of the time (the 16 files of a 150k landing: 0.31 -> 0.21 s)
_READERS = 4


def _read(
    path: Path, settings: IngestSettings, kind: str | None, channel: str | None
) -> tuple[Snapshot, RawFile] | Exception:
    """The file's snapshot before it was read and its content, or why it could not be read (no logging:
    this runs in a reader thread, outside the run's context)."""
    try:
        before = Snapshot.of(path)
        return before, read_file(path, settings, kind=kind, channel=channel)
    except Exception as error:
        return error


@task(cache_policy=NO_CACHE)
def check_task(
    paths: list[str], settings: IngestSettings, kind: str | None, channel: str | None
) -> list[_Checked | FileReport]:
    """Read, normalize and validate files (validated together, in one GX run); a bad file gets its report."""
    began = time.perf_counter()
    results: list[_Checked | FileReport | None] = [None] * len(paths)
    read: list[tuple[int, Snapshot, RawFile]] = []
    files = [Path(name) for name in paths]
    with ThreadPoolExecutor(max_workers=max(1, min(_READERS, len(files)))) as pool:
        attempts = list(pool.map(lambda path: _read(path, settings, kind, channel), files))
    for index, (path, attempt) in enumerate(zip(files, attempts, strict=True)):
        if isinstance(attempt, Exception):
            results[index] = _failed(path, attempt)
            continue
        before, raw = attempt
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
    """Load the checked files in order, in one transaction, through one store connection.

    Files seen before are `unchanged`. Should any file fail to load, the transaction is rolled back
    and each file is loaded in its own (the failure is that file's, the others load). From the landing
    folder the files are archived once loaded (processed/ or failed/, their batch and quarantine rows
    pointing there). Once `stop` is requested, no other file is started.
    """
    rebuild = profile_rebuilder(settings.review)
    # the store is opened once for the run (not per file): no busy error can come after this point
    # DuckDB checkpoints at the group's commit (its log passes 16 MB) and at close: putting the
    # checkpoint off to the close (a 64 GB threshold) made the close rewrite what the commit had
    # written already, 0.2 s more for a 150k-row landing
    with open_store(settings.store, busy_timeout_s=settings.store_busy_timeout_s) as store:
        together, advanced = _loaded_together(store, checked, rebuild, stop)
        if together is None:
            reports = _loaded_alone(store, checked, rebuild, settings, stop, advanced)
        else:
            reports = together
        for item, report in zip(checked, reports, strict=True):
            if isinstance(item, _Checked) and report.status not in _NOT_LOADED:
                _reported(item, report, per_channel)
        if from_landing:
            # one commit for the group's new paths; a crash before it leaves loaded files in the
            # landing folder, which the next run finds `unchanged` and archives then
            with store.transaction():
                reports = [
                    report
                    if report.status == BatchStatus.INTERRUPTED
                    else _archived(report, Path(report.path), settings, store)
                    for report in reports
                ]
    return reports


def _loaded_together(
    store: Store, checked: list[_Checked | FileReport], rebuild: ProfileRebuilder, stop: StopFlag
) -> tuple[list[FileReport] | None, int]:
    """The files' reports, loaded in one transaction, and how many files the progress counted.

    One commit instead of one per file, and the rows of many files reach the store file in whole row
    groups, so the checkpoint at close writes less. None when a file failed: nothing was written.
    """
    reports: list[FileReport] = []
    try:
        with store.transaction():
            if not _jointly_loaded(store, checked, rebuild, stop, reports):
                _each_loaded(
                    checked,
                    stop,
                    lambda item: (
                        already_loaded(store, item.prepared.raw) or load(store, item.prepared, rebuild)
                    ),
                    reports,
                )
    # any failure, as _load_one takes it: that file's own (named when it is loaded alone), or the store's
    except Exception as error:
        get_run_logger().info(
            "the files could not be loaded together (%s: %s): each is loaded alone",
            type(error).__name__,
            error,
        )
        return None, len(reports)
    return reports, len(reports)


def _jointly_loaded(
    store: Store,
    checked: list[_Checked | FileReport],
    rebuild: ProfileRebuilder,
    stop: StopFlag,
    reports: list[FileReport],
) -> bool:
    """Load the checked files with one set of statements (`load_jointly`) and append their reports in order.

    False, with nothing written or appended, when they can't be loaded so (see load_jointly) or a stop
    was requested. A file's `seconds` is its share, by rows read, of the joint load's time.
    """
    files = [item for item in checked if isinstance(item, _Checked)]
    if stop.requested:
        return False
    began = time.perf_counter()
    joint = load_jointly(store, [item.prepared for item in files], rebuild)
    if joint is None:
        return False
    seconds = time.perf_counter() - began
    rows = sum(report.rows_read for report in joint) or 1
    loaded = iter(joint)  # in the order of `files`
    for item in checked:
        if isinstance(item, _Checked):
            report = next(loaded)
            report.seconds = round(report.seconds + seconds * report.rows_read / rows, 3)
        else:
            report = item
        reports.append(report)
        progress().advance(Path(report.path).name)
    return True


def _loaded_alone(
    store: Store,
    checked: list[_Checked | FileReport],
    rebuild: ProfileRebuilder,
    settings: Settings,
    stop: StopFlag,
    advanced: int,
) -> list[FileReport]:
    """The files' reports, each file loaded in its own transaction; a failure is that file's alone.

    The first `advanced` files were counted by the progress already (in the joint attempt).
    """
    reports: list[FileReport] = []
    _each_loaded(checked, stop, lambda item: _load_one(store, item, rebuild, settings), reports, advanced)
    return reports


def _each_loaded(
    checked: list[_Checked | FileReport],
    stop: StopFlag,
    load_file: Callable[[_Checked], FileReport],
    reports: list[FileReport],
    counted: int = 0,
) -> None:
    """Append each file's report in order: kept as checked, not started after a stop, or loaded (timed).

    The progress advances past the first `counted` files only; `reports` holds what was done should
    `load_file` raise.
    """
    for index, item in enumerate(checked):
        if isinstance(item, FileReport):
            reports.append(item)
        elif stop.requested:
            reports.append(_not_started(item.path, stop))
            continue
        else:
            began = time.perf_counter()
            report = load_file(item)
            report.seconds = round(report.seconds + time.perf_counter() - began, 3)
            reports.append(report)
        if index >= counted:
            progress().advance(Path(reports[-1].path).name)


def _load_one(store: Store, item: _Checked, rebuild: ProfileRebuilder, settings: Settings) -> FileReport:
    """Load one checked file (all or nothing); any failure of it is its own (named, never the run's)."""
    path, prepared = item.path, item.prepared
    try:
        with explained(f"loading {path.name}", settings.store, _BAD_INPUT_HINT):
            return already_loaded(store, prepared.raw) or load(store, prepared, rebuild)
    except StoreBusyFailure:
        raise  # not this file's fault: it stays in the landing folder for the next run
    except Exception as error:
        get_run_logger().error("%s: not loaded (nothing written): %s", path.name, error)
        return FileReport(path=str(path), status="failed", error=f"{path}: {type(error).__name__}: {error}")


def _reported(item: _Checked, report: FileReport, per_channel: dict[str, dict[str, int]]) -> None:
    """Count and log a loaded (committed) file; one that changed after it was read is left for the next run."""
    logger = get_run_logger()
    path, prepared = item.path, item.prepared
    add_counts(per_channel, channel_counts(prepared, report))
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
    with data_docs_once(settings.ingest) as build_data_docs, stop_on_interrupt(message=_STOPPING) as stop:
        for group in _groups(inputs):
            if stop.requested:
                reports += [_not_started(path, stop) for path in group]
                continue
            checked = check_task([str(path) for path in group], settings.ingest, kind, channel)
            build_data_docs()  # the group's validation pages, rendered while its files load
            # quoted: Prefect would walk every frame of the checked files looking for futures (the
            # task gets the list itself: Prefect unwraps the quote)
            unwalked = cast(list[_Checked | FileReport], quote(checked))
            reports += load_task(settings, unwalked, stop, per_channel, from_landing)
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
    publish(reports, per_channel)
    return [report.to_dict() for report in reports]
