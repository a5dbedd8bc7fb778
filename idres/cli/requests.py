"""`idres requests list|show|confirm`, and what `idres export` and `idres anonymize` share."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from domain.statuses import RequestKind, RequestStatus
from idres.cli.common import (
    FormatOption,
    StoreOption,
    flow_settings,
    is_quiet,
    run_flow,
    settings_for,
    store_session,
)
from idres.output import OutputFormat, console, emit, fail, table

group = typer.Typer(help="Export and anonymization requests.", no_args_is_help=True)

CustomerOption = Annotated[int | None, typer.Option("--customer", help="The customer id.")]
EmailOption = Annotated[str | None, typer.Option("--email", help="An e-mail address of the person.")]
PhoneOption = Annotated[str | None, typer.Option("--phone", help="A phone number of the person.")]
RequestedByOption = Annotated[
    str, typer.Option("--requested-by", help="Who asked (the compliance officer or agent).")
]
ReasonOption = Annotated[str | None, typer.Option("--reason", help="Why (e.g. the letter's reference).")]
REQUEST_COLUMNS = [
    "id",
    "kind",
    "status",
    "customers",
    "lookup",
    "requested by",
    "requested at",
    "due",
    "detail",
]
CustomersOption = Annotated[
    str | None,
    typer.Option(
        "--customers", help="The customers the request covers, e.g. 12,57,80 (from the candidates)."
    ),
]
YesOption = Annotated[bool, typer.Option("--yes", help="Cover every candidate customer without asking.")]


def _ids(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part.strip().lstrip("#")) for part in text.split(",") if part.strip()]
    except ValueError:
        fail(f"--customers takes customer ids separated by commas, got {text!r}")


def _print_candidates(request: dict[str, Any], candidates: list[dict[str, Any]]) -> None:
    console.print(
        f"request {request['request_id']}: {len(candidates)} customers may be this person "
        f"({request['lookup_kind']} lookup); confirm which the request covers:", highlight=False,
    )  # fmt: skip
    console.print(table(None, ["customer", "name", "channels", "why"], [
        [c["customer_id"], c.get("name") or "(no name)", ", ".join(c.get("channels") or []), "; ".join(c["why"])]
        for c in candidates]))  # fmt: skip


def queue_request(
    ctx: typer.Context,
    kind: str,
    store: Path | None,
    fmt: OutputFormat,
    customer: int | None,
    email: str | None,
    phone: str | None,
    requested_by: str,
    reason: str | None,
    customers: str | None = None,
    yes: bool = False,
) -> None:

    from compliance.requests import candidates_of, confirm_request, request_anonymization, request_export

    settings = settings_for(ctx, store)
    queue: Callable[..., dict[str, Any]] = (
        request_export if kind == RequestKind.EXPORT else request_anonymization
    )
    with store_session(ctx, store) as session:
        request = queue(
            session, requested_by, customer_id=customer, email=email, phone=phone, reason=reason,
            default_region=settings.ingest.default_region, review_threshold=settings.match.review_threshold,
            customer_ids=_ids(customers), confirm_all=yes,
        )  # fmt: skip
        if request["status"] == RequestStatus.NEEDS_CONFIRMATION and fmt == OutputFormat.text:
            candidates = candidates_of(session, request)
            _print_candidates(request, candidates)
            if sys.stdin.isatty():
                everyone = ",".join(str(c["customer_id"]) for c in candidates)
                answer = typer.prompt("customers the request covers (ids, or 'none' to decide later)",
                                      default=everyone)  # fmt: skip
                if answer.strip().lower() != "none":
                    request = confirm_request(
                        session, request["request_id"], _ids(answer) or [], requested_by
                    )
    if request["status"] == RequestStatus.NEEDS_CONFIRMATION:
        emit(request, fmt, lambda r: console.print(
            f"request {r['request_id']} waits for a confirmation: `idres requests confirm {r['request_id']} "
            "--customers ID,ID --confirmed-by NAME`", highlight=False))  # fmt: skip
        return
    emit(request, fmt, lambda r: console.print(
        f"request {r['request_id']} queued: {kind} of customer(s) "
        f"{', '.join(map(str, r.get('customer_ids') or [r['customer_id']]))} (status {r['status']}, due "
        f"{r['due_at']:%Y-%m-%d}); it runs with the next `{kind}` flow or `idres {kind} run`",
        highlight=False))  # fmt: skip


def run_request_flow(ctx: typer.Context, kind: str, store: Path | None, fmt: OutputFormat) -> None:
    """Run the `export` or `anonymize` flow (`kind`) now; Ctrl-C says how far an erasure got."""
    settings = flow_settings(ctx, store)
    if kind == RequestKind.EXPORT:
        from flows.export import export_flow as run
    else:
        from flows.anonymize import anonymize_flow as run
    try:
        summary = run_flow(
            f"{kind} run failed",
            settings,
            lambda: run(store=str(settings.store), settings=settings),
            quiet=is_quiet(ctx),
        )
    except KeyboardInterrupt:
        if kind == RequestKind.ANONYMIZE:
            _say_where_erasure_stopped(settings.store)
        raise typer.Exit(130) from None
    emit(summary, fmt, lambda s: _render_run(kind, s))


def _say_where_erasure_stopped(store_path: Path) -> None:
    """After a second Ctrl-C: which erasure requests are done, still erasing (the next run verifies) or pending."""
    from compliance.requests import list_requests
    from store import open_store

    with open_store(store_path, read_only=True) as session:
        rows = list_requests(session, kind=RequestKind.ANONYMIZE)
    by_status: dict[str, list[int]] = {}
    for row in rows:
        by_status.setdefault(row["status"], []).append(int(row["request_id"]))
    for status, meaning in (
        (RequestStatus.DONE, "done and verified"),
        (RequestStatus.ERASING, "erased, to be verified by the next run"),
        (RequestStatus.PENDING, "not started"),
    ):
        ids = sorted(by_status.get(status, []))
        if ids:
            console.print(f"interrupted: request(s) {', '.join(map(str, ids))} {meaning}", highlight=False)


def _render_run(kind: str, summary: dict[str, Any]) -> None:
    if kind == RequestKind.EXPORT:
        console.print(f"{len(summary['done'])} bundle(s) produced", highlight=False)
        for produced in summary["bundles"]:
            console.print(
                f"request {produced['request_id']}: {produced['path']} (sha256 {produced['sha256']})",
                highlight=False,
            )
        return
    console.print(
        f"{len(summary['done'])} request(s) anonymized and verified, {len(summary['waiting'])} waiting, "
        f"{len(summary['retention_queued'])} queued by the retention policy, "
        f"{summary['reappeared']} erased key(s) re-appeared as new customers",
        highlight=False,
    )
    for waiting in summary["waiting"]:
        console.print(f"request {waiting['request_id']} waits: {waiting['reason']}", highlight=False)
    if summary.get("interrupted"):
        done = ", ".join(map(str, summary["done"])) or "none"
        later = ", ".join(map(str, summary.get("not_started", []))) or "none"
        by = "Ctrl-C" if summary.get("interrupted_by", "SIGINT") == "SIGINT" else summary["interrupted_by"]
        console.print(f"interrupted ({by}): done and verified: {done}; not started (still pending): {later}",
                      highlight=False)  # fmt: skip


@group.command("list")
def requests_list(
    ctx: typer.Context,
    kind: Annotated[str | None, typer.Option("--kind", help="export or anonymize.")] = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="needs_confirmation, pending, waiting, done, incomplete, failed, not_found or deleted.",
        ),
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", help="A request or customer id, lookup, reason or requester.")
    ] = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Only open requests past their due date.")
    ] = False,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Export and anonymization requests with their status and due date, newest first."""
    from compliance.requests import list_requests

    with store_session(ctx, store, read_only=True) as session:
        rows = list_requests(session, kind=kind, status=status, search=search, overdue=overdue)
    emit(rows, fmt, lambda data: console.print(table("Requests", REQUEST_COLUMNS, [
        [r["request_id"], r["kind"], r["status"],
         ", ".join(map(str, r.get("customer_ids") or ([r["customer_id"]] if r["customer_id"] else []))),
         r["lookup_kind"], r["requested_by"], f"{r['requested_at']:%Y-%m-%d %H:%M}",
         f"{r['due_at']:%Y-%m-%d}" if r.get("due_at") else "", r["status_reason"] or r["bundle_path"] or ""]
        for r in data])))  # fmt: skip


@group.command("show")
def requests_show(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="The request id.")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """One request with its candidate customers and why each may be the person."""
    from compliance.requests import candidates_of, get_request

    with store_session(ctx, store, read_only=True) as session:
        found = get_request(session, request_id)
        if found is None:
            fail(f"no request {request_id}")
        candidates = candidates_of(session, found)

    def render(data: dict[str, Any]) -> None:
        console.print(
            f"request {data['request_id']}: {data['kind']}, status {data['status']}, due "
            f"{data['due_at']:%Y-%m-%d}, by {data['requested_by']}; reason: {data['reason'] or '-'}",
            highlight=False,
        )
        if candidates:
            _print_candidates(data, candidates)

    emit({**found, "candidates": candidates}, fmt, render)


@group.command("confirm")
def requests_confirm(
    ctx: typer.Context,
    request_id: Annotated[int, typer.Argument(help="The request id.")],
    customers: Annotated[str, typer.Option("--customers", help="The customers it covers, e.g. 12,57,80.")],
    confirmed_by: Annotated[str, typer.Option("--confirmed-by", help="Who confirms (the officer).")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Confirm which candidate customers a person's request covers; it is then queued as one."""
    from compliance.requests import confirm_request

    with store_session(ctx, store) as session:
        request = confirm_request(session, request_id, _ids(customers) or [], confirmed_by)
    emit(request, fmt, lambda r: console.print(
        f"request {r['request_id']} confirmed for customers {', '.join(map(str, r['customer_ids']))}: "
        f"{r['status']}", highlight=False))  # fmt: skip
