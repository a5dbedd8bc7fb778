"""`idres suggestions list|show|export|approve|reject|decide`: merge suggestions and the decisions on them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from domain.statuses import SuggestionStatus
from idres.cli.common import (
    FormatOption,
    OutOption,
    StoreOption,
    settings_for,
    store_session,
    write_frame,
)
from idres.output import OutputFormat, console, emit, fail, say, table
from review import bulk_decisions, decisions
from store.views import exports
from store.views import review as review_view

group = typer.Typer(help="Merge suggestions produced by `idres match`.", no_args_is_help=True)

AgentOption = Annotated[str, typer.Option("--agent", help="Who decides (recorded and audited).")]
CommentOption = Annotated[str | None, typer.Option("--comment", help="Why (kept with the decision).")]


@group.command("list")
def suggestions_list(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option(help="pending, approved, rejected, applied, superseded.")
    ] = None,
    band: Annotated[
        str | None,
        typer.Option(
            help="review, auto_approve, related or possible (below review: listed only when asked for)."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many suggestions.")] = 50,
    order: Annotated[
        str,
        typer.Option(
            help="probable (most probable first) or informative (most uncertain first, blocking rules "
            "in turn, the possible band included: the decisions the model learns most from)."
        ),
    ] = "probable",
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Suggestions, most probable first (or most informative first with --order informative)."""
    if order not in review_view.ORDERS:
        fail(f"--order must be one of {', '.join(review_view.ORDERS)}, got {order!r}", code=2)
    with store_session(ctx, store) as session:
        rows = review_view.list_suggestions(session, status=status, band=band, limit=limit, order=order)
    emit(
        rows,
        fmt,
        lambda data: console.print(
            table(
                "Suggestions",
                ["id", "customers", "probability", "band", "status", "reason"],
                [
                    [
                        r["suggestion_id"],
                        f"{r['customer_id_l']} + {r['customer_id_r']}",
                        f"{r['probability']:.3f}",
                        r["band"],
                        r["status"],
                        r["reason"],
                    ]
                    for r in data
                ],
            )
        ),
    )


@group.command("show")
def suggestions_show(
    ctx: typer.Context,
    suggestion_id: Annotated[int, typer.Argument(help="Suggestion id.")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """One suggestion: scores, evidence per field and both customers' identities."""
    with store_session(ctx, store) as session:
        record = review_view.detail(session, suggestion_id)
    if record is None:
        fail(f"no suggestion {suggestion_id}")
    emit(record, fmt, _render_suggestion)


def _render_suggestion(r: dict[str, Any]) -> None:
    console.print(
        f"suggestion {r['suggestion_id']}: customers {r['customer_id_l']} + {r['customer_id_r']}, "
        f"probability {r['probability']:.3f} (weight {r['match_weight']:.2f}), band {r['band']}, "
        f"status {r['status']}",
        highlight=False,
        markup=False,
    )
    for label in ("reason", "status_reason"):
        if r.get(label):
            console.print(f"{label}: {r[label]}", highlight=False, markup=False)
    console.print(
        table(
            "Evidence",
            ["field", "value_l", "value_r", "level", "weight"],
            [
                [
                    e.get("field"),
                    e.get("value_l"),
                    e.get("value_r"),
                    e.get("level"),
                    f"{e.get('weight', 0):.2f}",
                ]
                for e in r["evidence"]
            ],
        )
    )
    for side in ("l", "r"):
        console.print(
            table(
                f"Customer {r[f'customer_id_{side}']}",
                ["id", "channel", "external id", "name", "email", "phone"],
                [
                    [
                        i["identity_id"],
                        i["channel"],
                        i["external_id"],
                        i["display_name"] or " ".join(filter(None, [i["first_name"], i["last_name"]])),
                        i["email"],
                        i["phone"],
                    ]
                    for i in r[f"identities_{side}"]
                ],
            )
        )


@group.command("export")
def suggestions_export(ctx: typer.Context, out: OutOption, store: StoreOption = None) -> None:
    """Every suggestion with both customers' identities (channel:external_id)."""
    with store_session(ctx, store) as session:
        frame = exports.suggestions_for_export(session)
    write_frame(frame, out)
    console.print(f"wrote {frame.height} suggestions to {out}", highlight=False)


@group.command("approve")
def suggestions_approve(
    ctx: typer.Context,
    suggestion_id: Annotated[int | None, typer.Argument(help="The suggestion to approve.")] = None,
    agent: AgentOption = "",
    comment: CommentOption = None,
    min_probability: Annotated[
        float | None,
        typer.Option(
            "--min-probability", help="Bulk: approve every pending suggestion at least this probable."
        ),
    ] = None,
    band: Annotated[str | None, typer.Option(help="Bulk: only this band (review, auto_approve).")] = None,
    channel: Annotated[
        str | None, typer.Option(help="Bulk: only pairs where a customer has an identity on this channel.")
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Approve a suggestion (or many with --min-probability); `idres merges apply` merges approved ones."""
    if (suggestion_id is None) == (min_probability is None):
        fail(
            "give either a suggestion ID or --min-probability (for bulk approval), not both or neither",
            code=2,
        )
    if suggestion_id is not None and (band or channel):
        fail("--band and --channel filter bulk approval; use them with --min-probability", code=2)
    with store_session(ctx, store) as session:
        if suggestion_id is not None:
            result: Any = decisions.approve(session, suggestion_id, agent, comment)
        else:
            assert min_probability is not None
            result = decisions.bulk_approve(
                session, agent, min_probability, band=band, channel=channel, comment=comment
            )
    emit(result, fmt, _render_decision if suggestion_id is not None else _render_bulk)


@group.command("reject")
def suggestions_reject(
    ctx: typer.Context,
    suggestion_id: Annotated[int, typer.Argument(help="The suggestion to reject.")],
    agent: AgentOption = "",
    comment: CommentOption = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Reject a suggestion: the two customers are different people, and will never be merged."""
    with store_session(ctx, store) as session:
        result = decisions.reject(session, suggestion_id, agent, comment)
    emit(result, fmt, _render_decision)


def _render_decision(r: dict[str, Any]) -> None:
    if r["repointed"]:
        say(
            f"note: {r['repointed']}; the suggestion now joins customers {r['customer_id_l']} and {r['customer_id_r']}"
        )
    say(
        f"suggestion {r['suggestion_id']} {r['status']} by {r['decided_by']} "
        f"(customers {r['customer_id_l']} and {r['customer_id_r']}, probability {r['probability']:.3f})"
    )
    if r["status"] == SuggestionStatus.APPROVED:
        say("it is merged by the next apply-merges run (`idres merges apply`)")


def _render_bulk(results: list[dict[str, Any]]) -> None:
    approved = sum(r["outcome"] == SuggestionStatus.APPROVED for r in results)
    say(f"{approved} approved, {len(results) - approved} skipped")
    if results:
        console.print(
            table(
                "Bulk approval",
                ["suggestion", "probability", "band", "outcome", "reason"],
                [
                    [r["suggestion_id"], f"{r['probability']:.3f}", r["band"], r["outcome"], r.get("reason")]
                    for r in results
                ],
            )
        )


@group.command("decide")
def suggestions_decide(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            help="CSV or JSON Lines: suggestion_id, or channel_l, external_id_l, channel_r, "
            "external_id_r; decision (approve or reject); agent; comment.",
        ),
    ],
    agent: Annotated[
        str, typer.Option("--agent", help="Who decides, for rows that name no agent (audited).")
    ] = "",
    merge_unsuggested: Annotated[
        bool,
        typer.Option(
            "--merge-unsuggested",
            help="Approving two identities with no suggestion between them merges them by hand.",
        ),
    ] = False,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Decisions in bulk from a file, each through the same audited path as one decision; lists what
    could not be applied and why (exit 1 if any)."""
    from review.bulk_decisions import decide_file

    settings = settings_for(ctx, store)
    with store_session(ctx, store) as session:
        report = decide_file(session, file, agent, settings.review, merge_unsuggested)
    emit(report, fmt, _render_file)
    if report["not applied"]:
        raise typer.Exit(1)


def _render_file(r: dict[str, Any]) -> None:
    say(
        f"{r['file']}: {r['rows']} rows, {r['applied']} applied, {r['unchanged']} unchanged, "
        f"{r['not applied']} not applied"
    )
    failed = [x for x in r["results"] if x["outcome"] != bulk_decisions.APPLIED]
    if failed:
        console.print(
            table(
                "Not applied or unchanged",
                ["line", "decision", "suggestion", "outcome", "reason"],
                [
                    [x["line"], x.get("decision"), x.get("suggestion_id"), x["outcome"], x.get("reason")]
                    for x in failed
                ],
            )
        )
