"""The `ingest` flow's counts and Prefect artifacts: rows read, loaded and quarantined per file and channel."""

from __future__ import annotations

from pathlib import Path

import polars as pl
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from flows.common import markdown_table
from ingest.pipeline import FileReport, Prepared


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


def add_counts(totals: dict[str, dict[str, int]], counts: dict[str, dict[str, int]]) -> None:
    """Add one file's per-channel counts to the run's totals."""
    for channel, values in counts.items():
        row = totals.setdefault(channel, {"read": 0, "loaded": 0, "quarantined": 0})
        for name, value in values.items():
            row[name] += value


def publish(reports: list[FileReport], per_channel: dict[str, dict[str, int]]) -> None:
    """The run's Prefect artifacts: summary, files, quarantine reasons and warnings, channels."""
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
