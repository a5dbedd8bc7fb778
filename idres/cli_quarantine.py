"""`idres quarantine export` and `idres quarantine retry`: fixed rows back in with one command, audited."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from idres.cli import quarantine_app
from idres.cli_common import FormatOption, StoreOption, settings_for, store_session
from idres.output import OutputFormat, console, emit, fail, table

AgentOption = Annotated[str, typer.Option("--agent", help="Who does this (audited).")]


@quarantine_app.command("export")
def quarantine_export(
    out: Annotated[Path, typer.Option(help="Folder for the JSON Lines files (one per batch).")],
    agent: AgentOption,
    batch: Annotated[int | None, typer.Option(help="Only rows of this ingest batch.")] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Write quarantined rows with their own column names, to fix and then `quarantine retry --from FILE`."""
    from ingest.retry import QuarantineError, export_quarantine

    with store_session(store) as session:
        try:
            files = export_quarantine(session, out, agent, batch)
        except QuarantineError as error:
            fail(str(error))
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


@quarantine_app.command("retry")
def quarantine_retry(
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
    from ingest.retry import QuarantineError, retry_quarantine

    if edited is None and batch is None and not ids:
        fail("say which rows: --batch N, --id ID (repeatable), or --from FILE (an edited export)")
    settings = settings_for(store)
    with store_session(store) as session:
        try:
            results = retry_quarantine(
                session,
                settings.ingest,
                agent,
                batch_id=batch,
                quarantine_ids=ids,
                edited=edited,
                review=settings.review,
            )
        except QuarantineError as error:
            fail(str(error))
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
