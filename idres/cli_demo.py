"""`idres demo`: the whole pipeline on generated sample data, in one process (one Prefect start)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated

import typer

from idres.cli import app
from idres.cli_common import StoreOption, settings_for
from idres.output import console, table
from idres.settings import DATA_DIR


@app.command()
def demo(
    identities: Annotated[int, typer.Option(help="Sample size (identities).")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed of the sample.")] = 7,
    store: StoreOption = None,
) -> None:
    """Generate sample channel exports, then run every flow on the store and say where to look."""
    from data.generator import generate, write_sample
    from flows.ingest import ingest_flow
    from flows.runtime import prepare_prefect

    settings = settings_for(store)
    prepare_prefect()
    sample_dir = DATA_DIR / "samples" / "demo"
    if not (sample_dir / "truth" / "truth.csv").exists():
        write_sample(generate(identities, seed=seed), sample_dir)
        console.print(f"generated {identities} identities with messages in {sample_dir}", highlight=False)
    exports = sorted(p for p in sample_dir.iterdir() if p.name.startswith(("identities_", "messages_")))
    results = ingest_flow(paths=[str(p) for p in exports], store=str(settings.store))
    console.print(
        table(
            "1. ingest",
            ["file", "status", "read", "loaded", "quarantined"],
            [
                [Path(r["path"]).name, r["status"], r["rows_read"], r["rows_loaded"], r["rows_quarantined"]]
                for r in results
            ],
        )
    )
    next_steps = [
        f"store: {settings.store}",
        f"status: idres status --store {settings.store}",
        "quarantined rows: idres quarantine list",
        "a customer: idres customer show 1",
        f"validation reports (GX Data Docs): {settings.ingest.data_docs_dir}",
    ]
    if importlib.util.find_spec("flows.match") is not None:
        from flows.match import match_flow

        summary = match_flow(store=str(settings.store))
        bands = ", ".join(
            f"{band}: {count}" for band, count in sorted(summary.get("band_counts", {}).items())
        )
        console.print(
            f"2. match: {summary.get('pairs_compared', 0)} pairs compared in "
            f"{summary.get('timings', {}).get('total', 0):.1f} s; "
            f"{summary.get('suggestions_new', 0)} new suggestions ({bands or 'none'})",
            highlight=False,
        )
        next_steps += [
            "suggestions to review: idres suggestions list",
            f"quality against the truth: idres evaluate --truth {sample_dir / 'truth' / 'truth.csv'}",
        ]
    console.print(
        "\n[bold]Where to look next[/] (run commands as `uv run idres ...` or `.venv/bin/idres ...`)\n"
        + "\n".join(f"  {line}" for line in next_steps),
        highlight=False,
    )
