"""`idres status`: counts per table and channel, recent batches and the quarantine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.panel import Panel

from idres.cli.common import FormatOption, StoreOption, store_session
from idres.output import OutputFormat, console, emit, table
from store.views import status as status_view


def status(ctx: typer.Context, store: StoreOption = None, fmt: FormatOption = OutputFormat.text) -> None:
    """Counts per table and channel, the last ingest batches, and the quarantine."""
    with store_session(ctx, store) as session:
        data = status_view.status(session)
    emit(data, fmt, _render_status)


def _render_status(data: dict[str, Any]) -> None:
    counts = data["counts"]
    console.print(
        Panel.fit(
            "\n".join(f"{name}: {value}" for name, value in counts.items()),
            title=f"store {data['store']} (schema v{data['schema_version']})",
        )
    )
    console.print(
        table(
            "Identities per channel",
            ["channel", "identities", "match pending", "conversations"],
            [
                [c["channel"], c["identities"], c["match_pending"], c["conversations"]]
                for c in data["channels"]
            ],
        )
    )
    console.print(
        table(
            "Recent batches",
            ["batch", "kind", "file", "status", "read", "loaded", "quarantined", "warnings"],
            [
                [
                    b["batch_id"],
                    b["kind"],
                    Path(b["file_path"]).name,
                    b["status"],
                    b["rows_read"],
                    b["rows_loaded"],
                    b["rows_quarantined"],
                    ", ".join(f"{k} {v}" for k, v in b["warnings"].items()),
                ]
                for b in data["recent_batches"]
            ],
        )
    )
    if data["quarantine_by_reason"]:
        console.print(
            table(
                "Quarantine by reason",
                ["kind", "reason", "rows"],
                [[q["kind"], q["reason"], q["rows"]] for q in data["quarantine_by_reason"]],
            )
        )
    if data["warnings_by_field"]:
        console.print(
            table(
                "Loaded with a bad optional value (raw kept, normalized empty), by field",
                ["kind", "field", "rows"],
                [[w["kind"], w["field"], w["rows"]] for w in data["warnings_by_field"]],
            )
        )
