"""`idres merges apply|undo|log`: merging customers, audited and undoable."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from idres.cli.common import (
    FormatOption,
    StoreOption,
    flow_settings,
    is_quiet,
    run_flow,
    settings_for,
    store_session,
)
from idres.output import OutputFormat, console, emit, table

group = typer.Typer(
    help="Merges of customers: apply the approved ones, undo one, list them.", no_args_is_help=True
)

AgentOption = Annotated[str, typer.Option("--agent", help="Who does this (recorded in the audit log).")]
CommentOption = Annotated[str | None, typer.Option("--comment", help="Why (kept with the merge or undo).")]


@group.command("apply")
def merges_apply(
    ctx: typer.Context,
    agent: Annotated[
        str, typer.Option("--agent", help="Who runs it (recorded in the audit log).")
    ] = "apply-merges",
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Apply every approved suggestion with the `apply-merges` flow (one transaction)."""
    settings = flow_settings(ctx, store)
    from flows.apply_merges import apply_merges_flow

    report = run_flow(
        "apply-merges failed (nothing was changed)",
        settings,
        lambda: apply_merges_flow(store=str(settings.store), actor=agent, settings=settings),
        quiet=is_quiet(ctx),
    )
    emit(report, fmt, _render_apply)


def _render_apply(report: dict[str, Any]) -> None:
    from flows.apply_merges import outcome_rows

    console.print(
        f"apply run {report['apply_run_id']}: {report['approved_seen']} approved seen, "
        f"{report['merges_applied']} merges applied, {report['held_back']} held back, "
        f"{report['superseded']} superseded",
        highlight=False,
    )
    rows = outcome_rows(report)
    if rows:
        console.print(
            table(
                "Outcomes",
                ["outcome", "suggestion", "merge", "survivor", "absorbed", "reason"],
                [list(row.values()) for row in rows],
            )
        )


@group.command("undo")
def merges_undo(
    ctx: typer.Context,
    merge_id: Annotated[int, typer.Argument(help="The merge to undo (see `idres merges log`).")],
    agent: AgentOption,
    comment: CommentOption = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Split a merged customer back as it was; the two customers become a cannot-link."""
    from review.merging import undo_merge

    settings = settings_for(ctx, store)
    with store_session(ctx, store) as session:
        report = undo_merge(session, merge_id, agent, comment, settings.review)
    emit(
        report,
        fmt,
        lambda r: console.print(
            f"merge {r['merge_id']} undone: customer {r['absorbed_id']} is back with "
            f"{r['identities_returned']} identities; customer {r['holder_id']}'s profile was "
            f"{r['survivor_profile']}. They will not be merged again (cannot-link).",
            highlight=False,
        ),
    )


@group.command("log")
def merges_log(
    ctx: typer.Context,
    customer: Annotated[
        int | None, typer.Option("--customer", help="Only merges that built or split this customer.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many merges.")] = 100,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Merges, newest first: who merged what, how, and whether it was undone."""
    from review.merging import merge_log

    with store_session(ctx, store) as session:
        rows = merge_log(session, customer, limit)
    emit(
        rows,
        fmt,
        lambda data: console.print(
            table(
                "Merges",
                ["merge", "survivor", "absorbed", "suggestion", "kind", "by", "at", "status", "undone by"],
                [
                    [
                        m["merge_id"],
                        m["survivor_id"],
                        m["absorbed_id"],
                        m["suggestion_id"],
                        m["kind"],
                        m["applied_by"],
                        m["applied_at"],
                        m["status"],
                        m["undone_by"],
                    ]
                    for m in data
                ],
            )
        ),
    )
