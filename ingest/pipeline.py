"""Ingest one file: read, normalize, validate, then load valid rows and quarantine the rest.

The steps are separate functions so the Prefect flow can run each as a task; `ingest_file` runs
them in order for callers that do not need Prefect.
"""

from __future__ import annotations

import fcntl
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from domain.settings import IngestSettings
from ingest.guards import canonical_channel_ids, future_timestamps_flagged, scientific_phones_invalid
from ingest.landing import is_temporary
from ingest.normalize import normalize_identities, parse_timestamps
from ingest.read import InputFileError, RawFile, raw_rows_json, read_file
from ingest.validate import (
    KINDS,
    Rule,
    ValidationOutcome,
    identity_rules,
    message_rules,
    prepare_setups,
    validate,
    validate_files,
)
from store import Store, utcnow
from store.identities import (
    LoadCounts,
    find_loaded_batch,
    insert_batch,
    insert_quarantine,
    load_identities,
    load_identity_batches,
    load_messages,
)

# threads of one process queue here first; other processes wait on the flock of the lock file
_THREAD_LOCK = threading.Lock()

# Rebuilds the profiles of merged customers (ids) inside the load's transaction, at `now`: survivorship
# lives in review/, above ingest/ (`review.merging.profile_rebuilder(settings.review)` makes one).
ProfileRebuilder = Callable[[Store, list[int], datetime], None]


@dataclass
class FileReport:
    """What happened to one file; `rows_loaded + rows_quarantined == rows_read` when it was read."""

    path: str
    status: (
        # loaded | unchanged | rejected (every row quarantined) | failed (unreadable, nothing written)
        # | interrupted (not started: the run was stopped by Ctrl-C or SIGTERM)
        str
    )
    kind: str | None = None
    batch_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_new: int = 0
    rows_updated: int = 0
    rows_unchanged: int = 0
    rows_stale: int = 0
    rows_quarantined: int = 0
    identities_created: int = 0
    per_channel: dict[str, dict[str, int]] = field(default_factory=dict)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)  # human reason -> rows
    # loaded rows with a bad optional value, per field (raw kept, normalized empty; see validate.py)
    warnings: dict[str, int] = field(default_factory=dict)
    detected: str = ""  # what the reader found out (CSV delimiter, BOM, line endings, flattening, preset)
    archived_to: str | None = None  # where a landing file went (processed/ or failed/)
    data_docs_path: str | None = None
    previous_batch_id: int | None = None
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """True when the file was loaded, or was already loaded before."""
        return self.status in ("loaded", "unchanged")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class Prepared:
    """A file read, normalized and validated, ready to load."""

    raw: RawFile
    outcome: ValidationOutcome


def normalize_messages(frame: pl.DataFrame) -> pl.DataFrame:
    """Trim and lower-case the message kind (a message without one is the customer's), parse `created_at`."""
    author = pl.col("author_kind").str.strip_chars().str.to_lowercase()
    frame = frame.with_columns(
        pl.when(author.is_null() | (author == ""))
        .then(pl.lit("customer"))
        .otherwise(author)
        .alias("author_kind")
    )
    return parse_timestamps(frame, ["created_at"])


def prepare(raw: RawFile, settings: IngestSettings) -> Prepared:
    """Normalize and validate a file that was read (no store access)."""
    prepared = prepare_files([raw], settings)[0]
    if isinstance(prepared, Exception):
        raise prepared
    return prepared


def prepare_files(raws: list[RawFile], settings: IngestSettings) -> list[Prepared | Exception]:
    """Normalize each file, then validate the files of each kind together, in one GX run (no store access).

    One entry per file, in order: its `Prepared`, or the exception that stopped it (that file's failure
    only: a file that cannot be normalized is left out of the run's validation, and should the joint
    validation itself fail, each file is validated alone).
    """
    results: list[Prepared | Exception | None] = [None] * len(raws)
    pending: dict[str, list[tuple[int, pl.DataFrame]]] = {}
    for index, (raw, frame) in enumerate(zip(raws, normalized_files(raws, settings), strict=True)):
        if isinstance(frame, Exception):
            results[index] = frame
        else:
            pending.setdefault(raw.kind, []).append((index, frame))
    for kind, frames in pending.items():
        rules = _rules(kind, settings)
        batches = [(raws[index].path.name, frame) for index, frame in frames]
        name = batches[0][0] if len(batches) == 1 else f"{batches[0][0]} and {len(batches) - 1} more file(s)"
        with data_docs_lock(settings.data_docs_dir):
            try:
                outcomes: list[ValidationOutcome | Exception] = list(
                    validate_files(batches, kind, rules, run_name=name, data_docs_dir=settings.data_docs_dir)
                )
            except Exception:
                if len(batches) == 1:
                    raise
                outcomes = [_validated_alone(batch, kind, rules, settings) for batch in batches]
        for (index, _), outcome in zip(frames, outcomes, strict=True):
            if isinstance(outcome, Exception):
                results[index] = outcome
                continue
            if kind == "identities":
                outcome.valid = keep_unparsed_timestamps(outcome.valid)
            results[index] = Prepared(raws[index], outcome)
    return [result for result in results if result is not None]


def normalized_files(raws: list[RawFile], settings: IngestSettings) -> list[pl.DataFrame | Exception]:
    """Each file's rows as `normalized` makes them, or the exception that stopped that file.

    Identities files of one layout (same columns and types) are normalized together, in one pass:
    normalizing has a cost per call besides its cost per row (phones, names and timestamps are resolved
    per distinct value), and a landing folder of 16 files would pay it 16 times. Should the joint pass
    fail, each of its files is normalized alone, so that a failure stays one file's.
    """
    results: list[pl.DataFrame | Exception | None] = [None] * len(raws)
    layouts: dict[tuple[tuple[str, pl.DataType], ...], list[int]] = {}
    for index, raw in enumerate(raws):
        if raw.kind == "identities" and raw.rows:
            layouts.setdefault(tuple(raw.frame.schema.items()), []).append(index)
    for indexes in layouts.values():
        if len(indexes) > 1:
            joint = _normalized_jointly([raws[index] for index in indexes], settings)
            for index, frame in zip(indexes, joint or [], strict=False):
                results[index] = frame
    for index, raw in enumerate(raws):
        if results[index] is None:
            try:
                results[index] = normalized(raw, settings)
            except Exception as error:  # a polars error, RecursionError, ...: reported as this file's failure
                results[index] = error
    return [result for result in results if result is not None]


def _normalized_jointly(raws: list[RawFile], settings: IngestSettings) -> list[pl.DataFrame] | None:
    """The files' normalized rows from one pass over all of them; None when that pass fails."""
    try:
        joint = normalize_frame(pl.concat([raw.frame for raw in raws]), "identities", settings)
    except Exception:
        return None  # then each file alone: which of them failed is that file's report
    if joint.height != sum(raw.rows for raw in raws):
        return None
    frames, offset = [], 0
    for raw in raws:
        part = joint.slice(offset, raw.rows)
        # normalizing keeps each row in its place; should it ever not, each file alone is right
        if not part.get_column("row_number").equals(raw.frame.get_column("row_number")):
            return None
        frames.append(part)
        offset += raw.rows
    return frames


def normalized(raw: RawFile, settings: IngestSettings) -> pl.DataFrame:
    """The file's rows normalized for validation (an email or phone id becomes its normalized value)."""
    return normalize_frame(raw.frame, raw.kind, settings)


def normalize_frame(frame: pl.DataFrame, kind: str, settings: IngestSettings) -> pl.DataFrame:
    """Rows of `kind` normalized for validation (the rows of one file, or of several of one layout)."""
    frame = canonical_channel_ids(frame, settings)
    if kind != "identities":
        return normalize_messages(frame)
    frame = normalize_identities(frame, default_region=settings.default_region)
    frame = scientific_phones_invalid(frame)
    return future_timestamps_flagged(frame, ["created_at", "updated_at"], utcnow())


def prepare_validation(settings: IngestSettings) -> None:
    """Build the GX set-ups validation will use with these settings (the warm runner, before it forks)."""
    with data_docs_lock(settings.data_docs_dir):
        prepare_setups({kind: _rules(kind, settings) for kind in KINDS}, settings.data_docs_dir)


def _rules(kind: str, settings: IngestSettings) -> list[Rule]:
    allowed = sorted(settings.channels)
    if kind == "identities":
        return identity_rules(allowed, settings.max_value_length)
    return message_rules(allowed, settings.max_value_length, settings.max_body_length)


def _validated_alone(
    batch: tuple[str, pl.DataFrame], kind: str, rules: list[Rule], settings: IngestSettings
) -> ValidationOutcome | Exception:
    try:
        return validate(batch[1], kind, rules, batch_name=batch[0], data_docs_dir=settings.data_docs_dir)
    except Exception as error:  # this file's failure, not the run's
        return error


def keep_unparsed_timestamps(frame: pl.DataFrame) -> pl.DataFrame:
    """Keep a timestamp that did not parse in `extra` (`updated_at_unparsed`): the store's column is typed."""
    flags = [column for column in ("created_at", "updated_at") if f"{column}_bad" in frame.columns]
    bad = pl.any_horizontal([pl.col(f"{column}_bad").fill_null(False) for column in flags]) if flags else None
    if bad is None or not frame.select(bad.any()).item():
        return frame

    def merged(record: dict[str, Any]) -> str | None:
        extra = json.loads(record["extra"]) if record["extra"] else {}
        for column in flags:
            if record[f"{column}_bad"]:
                extra[f"{column}_unparsed"] = record[column]
        return json.dumps(extra, ensure_ascii=False) if extra else None

    # only the few bad rows go through Python
    fixed = {record["row_number"]: merged(record) for record in frame.filter(bad).iter_rows(named=True)}
    return frame.with_columns(
        pl.when(bad)
        .then(pl.col("row_number").replace_strict(fixed, default=None, return_dtype=pl.Utf8))
        .otherwise(pl.col("extra"))
        .alias("extra")
    )


@contextmanager
def data_docs_lock(data_docs_dir: Path | None) -> Iterator[None]:
    """Hold the data-docs folder alone: GX's file project (suites, checkpoints, docs) is not safe to share.

    Two ingests at once (two processes, or two threads) would otherwise update the same checkpoint and
    validation definition, and one fails with `CheckpointNotFreshError`; with the lock, one waits.
    """
    if data_docs_dir is None:
        yield
        return
    data_docs_dir.mkdir(parents=True, exist_ok=True)
    with _THREAD_LOCK, (data_docs_dir / ".idres-gx.lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # waits for the other process; released when closed
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def data_docs_once(settings: IngestSettings) -> Iterator[Callable[[], None]]:
    """Validate the files of the block with their Data Docs built once, at the end (under the docs lock).

    The function yielded starts building the pages of the validations so far in a thread, under the
    docs lock (a run calls it before it loads what it validated: GX renders while DuckDB writes).
    The block ends once every page is built; a failed build fails it as it would have at the end.
    """
    from ingest.validate import build_deferred_data_docs, start_deferred_data_docs, take_deferred_data_docs

    builders: list[threading.Thread] = []
    failures: list[BaseException] = []

    def build(pages: Callable[[], None]) -> None:
        try:
            with data_docs_lock(settings.data_docs_dir):
                pages()
        except BaseException as error:  # raised where the block ends, in the run's own thread
            failures.append(error)

    def build_in_background() -> None:
        thread = threading.Thread(target=build, args=(take_deferred_data_docs(),), name="idres-data-docs")
        thread.start()
        builders.append(thread)

    start_deferred_data_docs()
    try:
        yield build_in_background
    finally:
        for thread in builders:
            thread.join()
        with data_docs_lock(settings.data_docs_dir):
            build_deferred_data_docs()
        if failures:
            raise failures[0]


def already_loaded(store: Store, raw: RawFile) -> FileReport | None:
    """The report for a file whose exact content was ingested before (then nothing is written)."""
    previous = find_loaded_batch(store, raw.sha256, raw.kind)
    if previous is None:
        return None
    return FileReport(
        path=str(raw.path),
        status="unchanged",
        kind=raw.kind,
        rows_read=raw.rows,
        previous_batch_id=previous["batch_id"],
        error=None,
    )


def load(store: Store, prepared: Prepared, rebuild_profiles: ProfileRebuilder | None = None) -> FileReport:
    """Load valid rows and quarantine the rest in one transaction: all of the file or none of it.

    `rebuild_profiles` is needed when the file changes an identity of a merged customer.
    """
    raw, outcome = prepared.raw, prepared.outcome
    started = utcnow()
    with store.transaction():
        batch_id = store.next_id("ingest_batches", "batch_id")
        if raw.kind == "identities":
            counts = load_identities(store, outcome.valid, batch_id, started)
            _rebuilt(store, counts, rebuild_profiles, started)
        else:
            counts = load_messages(store, outcome.valid, batch_id, started)
        return _recorded(store, prepared, batch_id, counts, started)


def load_jointly(
    store: Store, files: list[Prepared], rebuild_profiles: ProfileRebuilder | None = None
) -> list[FileReport] | None:
    """Load several identity files with one set of statements, in one transaction; None if they can't be.

    The same store and reports as loading them one after the other (`load`; a file whose content was
    loaded before is `unchanged`), with a file's fixed cost (staging, inserts, counts: about 0.1 s)
    paid once (`load_identity_batches`). None, with nothing written, for fewer than two files, files
    that are not identities, or two files of the same content (the second is `unchanged` in turn).
    """
    if len(files) < 2 or any(f.raw.kind != "identities" for f in files):
        return None
    if len({f.raw.sha256 for f in files}) < len(files):
        return None
    seen = [already_loaded(store, f.raw) for f in files]
    started = utcnow()
    with store.transaction():
        loading = [f for f, report in zip(files, seen, strict=True) if report is None]
        first_batch = store.next_id("ingest_batches", "batch_id")
        batch_ids = [first_batch + index for index in range(len(loading))]
        every_counts = load_identity_batches(store, [f.outcome.valid for f in loading], batch_ids, started)
        if every_counts:
            _rebuilt(store, every_counts[0], rebuild_profiles, started)
        loaded = iter(
            [
                _recorded(store, prepared, batch_id, counts, started)
                for prepared, batch_id, counts in zip(loading, batch_ids, every_counts, strict=True)
            ]
        )
        return [report if report is not None else next(loaded) for report in seen]


def _rebuilt(
    store: Store, counts: LoadCounts, rebuild_profiles: ProfileRebuilder | None, now: datetime
) -> None:
    """Rebuild the profiles of the merged customers an identity load changed."""
    if counts.customers_to_rebuild:
        # a changed identity of a merged customer changes what survivorship picks
        if rebuild_profiles is None:
            raise RuntimeError("load() changed identities of merged customers: pass rebuild_profiles")
        rebuild_profiles(store, counts.customers_to_rebuild, now)


def _recorded(
    store: Store, prepared: Prepared, batch_id: int, counts: LoadCounts, started: datetime
) -> FileReport:
    """Quarantine a loaded file's failing rows and record its batch (in the caller's transaction); its report."""
    raw, outcome = prepared.raw, prepared.outcome
    quarantined = outcome.quarantined
    raw_rows = (
        raw_rows_json(raw, quarantined.get_column("row_number").to_list()) if quarantined.height else {}
    )
    insert_quarantine(
        store,
        quarantined.select(
            pl.lit(batch_id, dtype=pl.Int64).alias("batch_id"),
            pl.lit(raw.kind).alias("kind"),
            pl.lit(str(raw.path)).alias("file_path"),
            "row_number",
            "expectation",
            "reason",
            pl.col("row_number")
            .replace_strict(raw_rows, default=None, return_dtype=pl.Utf8)
            .alias("raw_row"),
            pl.lit(started).alias("quarantined_at"),
        ),
    )
    status = "loaded" if counts.loaded else "rejected"
    report = FileReport(
        path=str(raw.path),
        status=status,
        kind=raw.kind,
        batch_id=batch_id,
        rows_read=raw.rows,
        rows_loaded=counts.loaded,
        rows_new=counts.new,
        rows_updated=counts.updated,
        rows_unchanged=counts.unchanged,
        rows_stale=counts.stale,
        rows_quarantined=quarantined.height,
        identities_created=counts.identities_created,
        per_channel=counts.per_channel,
        quarantine_reasons=reason_counts(quarantined),
        warnings=dict(outcome.summary.get("warnings", {})),
        detected=raw.describe(),
        data_docs_path=outcome.data_docs_path,
    )
    if report.rows_loaded + report.rows_quarantined != report.rows_read:
        # a row neither loaded nor quarantined would be lost: refuse the whole file
        raise RuntimeError(
            f"{raw.path}: {report.rows_read} rows read but {report.rows_loaded} loaded and "
            f"{report.rows_quarantined} quarantined; nothing was written"
        )
    insert_batch(
        store,
        {
            "batch_id": batch_id,
            "kind": raw.kind,
            "file_path": str(raw.path),
            "file_sha256": raw.sha256,
            "file_size": raw.size,
            "channel": raw.channel,
            "status": status,
            "rows_read": report.rows_read,
            "rows_loaded": report.rows_loaded,
            "rows_new": report.rows_new,
            "rows_updated": report.rows_updated,
            "rows_unchanged": report.rows_unchanged + report.rows_stale,
            "rows_quarantined": report.rows_quarantined,
            "started_at": started,
            "finished_at": utcnow(),
            "validation": json.dumps({**outcome.summary, "input": raw.detected}, default=str),
            "data_docs_path": outcome.data_docs_path,
        },
    )
    return report


def reason_counts(quarantined: pl.DataFrame) -> dict[str, int]:
    """Quarantined rows per human reason ("channel is not a configured channel": 3), most first."""
    if quarantined.height == 0:
        return {}
    reasons = quarantined.select(pl.col("reason").str.split("; ")).explode("reason")
    counts = reasons.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    return dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))


def write_failure_reason(archived: Path, report: FileReport) -> Path:
    """`NAME.reason.txt` beside a file moved to failed/: why, and what to do."""
    lines = [f"{archived.name}: {report.status}"]
    if report.error:
        lines.append(f"error: {report.error}")
    if report.quarantine_reasons:
        lines.append(f"every one of its {report.rows_read} row(s) was quarantined:")
        lines += [f"  {reason}: {count}" for reason, count in report.quarantine_reasons.items()]
        lines.append(f"rows: idres quarantine list --batch {report.batch_id}")
        lines.append(
            f"after fixing the configuration: idres quarantine retry --batch {report.batch_id} --agent NAME"
        )
    else:
        lines.append(
            "nothing was written to the store; fix the file and drop it into the landing folder again"
        )
    target = archived.with_name(f"{archived.name}.reason.txt")
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def describe_counts(counts: dict[str, int]) -> str:
    """`reason: 3; other: 1` for summaries and logs."""
    return "; ".join(f"{name}: {count}" for name, count in counts.items())


def ingest_file(
    store: Store,
    path: Path,
    settings: IngestSettings,
    kind: str | None = None,
    channel: str | None = None,
    rebuild_profiles: ProfileRebuilder | None = None,
    preset: str | None = None,
) -> FileReport:
    """Read, normalize, validate and load one file; unreadable files give a `failed` report."""
    began = time.perf_counter()
    try:
        raw = read_file(path, settings, kind=kind, channel=channel, preset=preset)
    except InputFileError as error:
        return FileReport(
            path=str(path), status="failed", error=str(error), seconds=time.perf_counter() - began
        )
    report = already_loaded(store, raw)
    if report is None:
        report = load(store, prepare(raw, settings), rebuild_profiles)
    report.seconds = round(time.perf_counter() - began, 3)
    return report


def order_inputs(paths: list[Path]) -> list[Path]:
    """Identities before messages, so that message authors are known; otherwise name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and not is_temporary(p)))
        else:
            files.append(path)
    return sorted(files, key=lambda p: (p.name.lower().startswith("message"), p.name))
