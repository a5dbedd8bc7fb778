"""`idres ingest`: channel exports into the store with the `ingest` flow."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from domain.statuses import BatchStatus
from idres.cli.common import FormatOption, StoreOption, flow_settings, is_quiet, run_flow
from idres.output import OutputFormat, console, emit, err_console, fail, table


def ingest(
    ctx: typer.Context,
    paths: Annotated[
        list[Path] | None, typer.Argument(help="Files or folders; the landing folder when omitted.")
    ] = None,
    kind: Annotated[
        str | None, typer.Option(help="identities or messages (default: from the file name/columns).")
    ] = None,
    channel: Annotated[str | None, typer.Option(help="The channel of files that do not name it.")] = None,
    preset: Annotated[
        str | None,
        typer.Option(
            help="A vendor export's column mapping (see the README): zendesk-users, twilio-messages, ..."
        ),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Read, normalize, validate and load channel exports (CSV, JSON Lines, Parquet) with the `ingest` flow."""
    settings = flow_settings(ctx, store)
    if preset is not None:
        from ingest.presets import PRESETS

        if preset not in PRESETS:
            fail(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}", code=2)
    from flows.ingest import ingest_flow
    from flows.progress import cli_progress

    began = time.perf_counter()
    with cli_progress("ingest", enabled=not is_quiet(ctx) and fmt == OutputFormat.text):
        results = run_flow(
            "ingest failed",
            settings,
            lambda: ingest_flow(
                paths=[str(p) for p in paths] if paths else None,
                store=str(settings.store),
                kind=kind,
                channel=channel,
                preset=preset,
                settings=settings,
            ),
            quiet=is_quiet(ctx),
        )
    emit(results, fmt, _render_ingest)
    if fmt == OutputFormat.text and results:
        console.print(
            f"{len(results)} file(s): {sum(r['rows_read'] for r in results)} rows read, "
            f"{sum(r['rows_loaded'] for r in results)} loaded, "
            f"{sum(r['rows_quarantined'] for r in results)} quarantined "
            f"in {time.perf_counter() - began:.1f} s",
            highlight=False,
        )
    if not results:
        fail("nothing to ingest: no files given and the landing folder is empty", code=1)
    for r in results:  # on stderr: stdout holds only the JSON document with --format json
        if r["status"] == BatchStatus.FAILED:
            err_console.print(f"[red]failed:[/] {r['error']}", markup=True, highlight=False)
    stopped = [r for r in results if r["status"] == BatchStatus.INTERRUPTED]
    if stopped:  # Ctrl-C or SIGTERM: the shell's code for the signal, 130 or 143
        err_console.print(
            f"interrupted: {len(stopped)} file(s) not started; run the command again to load them",
            highlight=False,
        )
        raise typer.Exit(143 if "SIGTERM" in str(stopped[0]["error"]) else 130)
    if any(r["status"] in (BatchStatus.FAILED, BatchStatus.REJECTED) for r in results):
        raise typer.Exit(1)


def _ingest_note(r: dict[str, Any]) -> str:
    """What was detected and what went wrong in one file, for people."""
    parts = []
    if r.get("detected"):
        parts.append(r["detected"])
    if r.get("rows_quarantined"):
        parts.append("quarantined: " + "; ".join(f"{k}: {v}" for k, v in r["quarantine_reasons"].items()))
    if r.get("warnings"):
        fields = ", ".join(f"{k} {v}" for k, v in r["warnings"].items())
        parts.append(f"warnings (loaded, raw kept, not normalized): {fields}")
    return " | ".join(parts)


def _render_ingest(results: list[dict[str, Any]]) -> None:
    rows = []
    for r in results:
        note = r["error"] or ""
        if r["status"] == BatchStatus.UNCHANGED:
            note = f"already ingested as batch {r['previous_batch_id']}: nothing changed"
        else:
            note = _ingest_note(r) or note
        rows.append(
            [
                Path(r["path"]).name,
                r["kind"],
                r["status"],
                r["rows_read"],
                r["rows_loaded"],
                r["rows_new"],
                r["rows_updated"],
                r["rows_quarantined"],
                note,
            ]
        )
    console.print(
        table(
            "Ingest",
            ["file", "kind", "status", "read", "loaded", "new", "updated", "quarantined", "note"],
            rows,
        )
    )
    docs = sorted({r["data_docs_path"] for r in results if r.get("data_docs_path")})
    if docs:
        console.print(f"Validation reports (GX Data Docs): {docs[-1]}", highlight=False)
