"""`idres report`: an offline HTML report of the matching and the review backlog."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from idres.cli.common import FormatOption, StoreOption, settings_for, store_session
from idres.output import OutputFormat, console, emit, fail


def report(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="A truth file (channel, external_id, entity_id): quality against decisions over time.",
        ),
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Write an offline HTML report: match probabilities, field weights (before and after learning from
    decisions), blocking rules, review backlog."""
    from idres.cli.match import read_truth
    from reporting.html import collect, render
    from store import utcnow

    if out.suffix.lower() not in (".html", ".htm"):
        fail(f"the report is HTML: give --out a .html file name, not {out.name!r}", code=2)
    settings_for(ctx, store)
    truth_frame = read_truth(truth) if truth is not None else None
    with store_session(ctx, store, read_only=True) as session:
        data = collect(session, truth_frame)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data, utcnow()), encoding="utf-8")
    summary = {"out": str(out), "bytes": out.stat().st_size, **data.counts}
    summary["learning"] = {
        "labels_used": ((data.model or {}).get("labels") or {}).get("labels", 0),
        "decisions": data.labels_by_kind,
    }
    if not data.run_configs.is_empty():
        last = data.run_configs.row(-1, named=True)
        summary["latest_match_run"] = {k: last[k] for k in ("run_id", "config_id", "file", "set")}

    def render_text(s: dict[str, Any]) -> None:
        console.print(f"wrote {s['out']} ({s['bytes'] // 1024} KiB)", highlight=False)
        if "latest_match_run" in s:
            run = s["latest_match_run"]
            console.print(
                f"latest match run {run['run_id']}: configuration {run['config_id']}"
                + (f" from {run['file']}" if run["file"] else " (no idres.toml)")
                + (f", setting {run['set']}" if run["set"] else ", all defaults"),
                highlight=False,
            )

    emit(summary, fmt, render_text)
