"""`idres quarantine list|export|retry`: rows that failed validation, and fixed rows back in, audited."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from idres.cli.common import FormatOption, StoreOption, settings_for, store_session
from idres.output import OutputFormat, console, emit, fail, table
from store.views import status as status_view

group = typer.Typer(help="Rows that failed validation, kept with file, row and reason.", no_args_is_help=True)

AgentOption = Annotated[str, typer.Option("--agent", help="Who does this (audited).")]


@group.command("list")
def quarantine_list(
    ctx: typer.Context,
    batch: Annotated[int | None, typer.Option(help="Only rows of this ingest batch.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Quarantined rows with file, row number, failed expectation and the raw row."""
    with store_session(ctx, store) as session:
        rows = status_view.quarantine_rows(session, batch, limit)
        total = status_view.quarantine_count(session, batch)
    emit(
        rows,
        fmt,
        lambda data: _render_quarantine(data, total),
    )


def _render_quarantine(data: list[dict[str, Any]], total: int) -> None:
    console.print(
        table(
            "Quarantine",
            ["id", "batch", "file", "row", "reason", "raw row"],
            [
                [
                    q["quarantine_id"],
                    q["batch_id"],
                    q["file_path"],
                    q["row_number"],
                    q["reason"],
                    (q["raw_row"] or "")[:120],  # the whole row is in --format json
                ]
                for q in data
            ],
        )
    )
    more = " (newest first; --limit N for more, --batch N for one file)" if len(data) < total else ""
    console.print(f"{len(data)} of {total} quarantined row(s){more}", highlight=False)


@group.command("export")
def quarantine_export(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="Folder for the JSON Lines files (one per batch).")],
    agent: AgentOption,
    batch: Annotated[int | None, typer.Option(help="Only rows of this ingest batch.")] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Write quarantined rows with their own column names, to fix and then `quarantine retry --from FILE`."""
    from ingest.retry import export_quarantine

    with store_session(ctx, store) as session:
        files = export_quarantine(session, out, agent, batch)
    emit(
        [str(path) for path in files],
        fmt,
        lambda data: console.print(
            "\n".join(
                [
                    *[f"wrote {name}" for name in data],
                    "fix the rows, then: idres quarantine retry --from FILE --agent NAME "
                    "(or ingest the file; its _quarantine_id column is ignored)",
                ]
            ),
            highlight=False,
        ),
    )


@group.command("retry")
def quarantine_retry(
    ctx: typer.Context,
    agent: AgentOption,
    batch: Annotated[int | None, typer.Option(help="Only rows of this ingest batch.")] = None,
    ids: Annotated[
        list[int] | None, typer.Option("--id", help="Only these quarantine ids (repeatable).")
    ] = None,
    edited: Annotated[
        Path | None,
        typer.Option("--from", help="An edited `quarantine export` file: retry its rows as edited."),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Run quarantined rows through ingest again (after a configuration fix, or as edited); audited."""
    from ingest.retry import retry_quarantine
    from review.merging import profile_rebuilder

    if edited is None and batch is None and not ids:
        fail("say which rows: --batch N, --id ID (repeatable), or --from FILE (an edited export)")
    settings = settings_for(ctx, store)
    with store_session(ctx, store) as session:
        results = retry_quarantine(
            session,
            settings.ingest,
            agent,
            batch_id=batch,
            quarantine_ids=ids,
            edited=edited,
            rebuild_profiles=profile_rebuilder(settings.review),
        )
    data = [result.to_dict() for result in results]
    emit(data, fmt, _render_retry)
    if any(item["error"] or (item["report"] and item["report"]["rows_quarantined"]) for item in data):
        raise typer.Exit(1)


def _render_retry(data: list[dict[str, Any]]) -> None:
    rows = []
    for item in data:
        report = item["report"] or {}
        note = item["error"] or "; ".join(
            f"{k}: {v}" for k, v in report.get("quarantine_reasons", {}).items()
        )
        rows.append(
            [
                item["kind"],
                item["preset"] or "",
                item["rows"],
                report.get("batch_id", ""),
                report.get("rows_loaded", 0),
                report.get("rows_quarantined", 0),
                note,
            ]
        )
    console.print(
        table(
            "Quarantine retry",
            ["kind", "preset", "rows", "new batch", "loaded", "quarantined again", "note"],
            rows,
        )
    )
