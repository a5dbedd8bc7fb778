"""The `ingest` flow: read, normalize, validate and load channel exports into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.common import markdown_table, retry_when_busy, run_settings
from idres.settings import IngestSettings
from ingest.pipeline import FileReport, Prepared, already_loaded, archive_landed, load, order_inputs, prepare
from ingest.read import InputFileError, RawFile, read_file
from store import open_store


@task(cache_policy=NO_CACHE)
def read_task(path: str, settings: IngestSettings, kind: str | None, channel: str | None) -> RawFile:
    """Read one file into the canonical layout (bad files fail here, before the store is touched)."""
    return read_file(Path(path), settings, kind=kind, channel=channel)


@task(cache_policy=NO_CACHE)
def prepare_task(raw: RawFile, settings: IngestSettings) -> Prepared:
    """Normalize and validate a file's rows."""
    return prepare(raw, settings)


@task(cache_policy=NO_CACHE, retries=3, retry_delay_seconds=5, retry_condition_fn=retry_when_busy)
def load_task(store_path: str, prepared: Prepared, busy_timeout_s: float) -> FileReport:
    """Load valid rows and quarantine the rest, in one transaction; skip files loaded before."""
    with open_store(Path(store_path), busy_timeout_s=busy_timeout_s) as store:
        report = already_loaded(store, prepared.raw)
        return report if report is not None else load(store, prepared)


def _publish(reports: list[FileReport]) -> None:
    columns = ["file", "kind", "status", "read", "loaded", "new", "updated", "quarantined"]
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
        ]
        for r in reports
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
    if failed:
        summary += ["", "## Failed files", *[f"- {r.error}" for r in failed]]
    create_markdown_artifact(
        key="ingest-summary", markdown="\n".join(summary), description="Ingest run summary"
    )
    create_table_artifact(key="ingest-files", table=[dict(zip(columns, row, strict=True)) for row in rows])


@flow(name="ingest", log_prints=False)
def ingest_flow(
    paths: list[str] | None = None,
    store: str | None = None,
    kind: str | None = None,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """Ingest the given files or folders, or everything in the landing folder when none are given."""
    logger = get_run_logger()
    settings = run_settings(store)
    from_landing = not paths
    inputs = order_inputs([Path(p) for p in paths] if paths else [settings.ingest.landing_dir])
    if from_landing:
        settings.ingest.landing_dir.mkdir(parents=True, exist_ok=True)
    reports: list[FileReport] = []
    for path in inputs:
        try:
            raw = read_task(str(path), settings.ingest, kind, channel)
        except InputFileError as error:
            logger.error("%s", error)
            reports.append(FileReport(path=str(path), status="failed", error=str(error)))
        else:
            report = load_task(
                str(settings.store), prepare_task(raw, settings.ingest), settings.store_busy_timeout_s
            )
            logger.info(
                "%s: %s, %d read, %d loaded, %d quarantined",
                path.name,
                report.status,
                report.rows_read,
                report.rows_loaded,
                report.rows_quarantined,
            )
            reports.append(report)
        if from_landing:
            archive_landed(path, settings.ingest.landing_dir, reports[-1].ok)
    _publish(reports)
    return [report.to_dict() for report in reports]
