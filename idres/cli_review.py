"""`idres suggestions approve/reject` and `idres customer search/lock/unlock/edit/comment`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from idres.cli import customer_app
from idres.cli_common import FormatOption, StoreOption, settings_for, store_session
from idres.cli_match import suggestions_app
from idres.output import OutputFormat, console, emit, fail, table
from review import customers, decisions
from review.errors import ReviewError

AgentOption = Annotated[str, typer.Option("--agent", help="Who decides (recorded and audited).")]
CommentOption = Annotated[str | None, typer.Option("--comment", help="Why (kept with the decision).")]


def _say(message: str) -> None:
    console.print(message, highlight=False, markup=False)


@suggestions_app.command("approve")
def suggestions_approve(
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
    with store_session(store) as session:
        try:
            if suggestion_id is not None:
                result: Any = decisions.approve(session, suggestion_id, agent, comment)
            else:
                assert min_probability is not None
                result = decisions.bulk_approve(
                    session, agent, min_probability, band=band, channel=channel, comment=comment
                )
        except ReviewError as error:
            fail(str(error))
    emit(result, fmt, _render_decision if suggestion_id is not None else _render_bulk)


@suggestions_app.command("reject")
def suggestions_reject(
    suggestion_id: Annotated[int, typer.Argument(help="The suggestion to reject.")],
    agent: AgentOption = "",
    comment: CommentOption = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Reject a suggestion: the two customers are different people, and will never be merged."""
    with store_session(store) as session:
        try:
            result = decisions.reject(session, suggestion_id, agent, comment)
        except ReviewError as error:
            fail(str(error))
    emit(result, fmt, _render_decision)


def _render_decision(r: dict[str, Any]) -> None:
    if r["repointed"]:
        _say(
            f"note: {r['repointed']}; the suggestion now joins customers {r['customer_id_l']} and {r['customer_id_r']}"
        )
    _say(
        f"suggestion {r['suggestion_id']} {r['status']} by {r['decided_by']} "
        f"(customers {r['customer_id_l']} and {r['customer_id_r']}, probability {r['probability']:.3f})"
    )
    if r["status"] == "approved":
        _say("it is merged by the next apply-merges run (`idres merges apply`)")


def _render_bulk(results: list[dict[str, Any]]) -> None:
    approved = sum(r["outcome"] == "approved" for r in results)
    _say(f"{approved} approved, {len(results) - approved} skipped")
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


@customer_app.command("search")
def customer_search(
    query: Annotated[str, typer.Argument(help="A name, email, phone number or @handle (typos are fine).")],
    limit: Annotated[int, typer.Option(help="At most this many identities.")] = 20,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Find identities of active customers by name, email, phone or handle, best match first."""
    region = settings_for(store).ingest.default_region
    with store_session(store, read_only=True) as session:
        try:
            rows = customers.search_identities(session, query, limit, default_region=region)
        except ReviewError as error:
            fail(str(error))
    emit(
        rows,
        fmt,
        lambda data: console.print(
            table(
                f"Identities matching {query!r}",
                [
                    "score",
                    "customer",
                    "identity",
                    "channel",
                    "external id",
                    "name",
                    "email",
                    "phone",
                    "handle",
                ],
                [
                    [
                        r["score"],
                        r["customer_id"],
                        r["identity_id"],
                        r["channel"],
                        r["external_id"],
                        r["display_name"] or " ".join(filter(None, [r["first_name"], r["last_name"]])),
                        r["email"],
                        r["phone"],
                        r["screen_name"],
                    ]
                    for r in data
                ],
            )
        ),
    )


@customer_app.command("lock")
def customer_lock(
    customer_id: Annotated[
        int, typer.Argument(help="The customer to lock (a merged id locks its survivor).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown to everyone who tries to change it).")],
    agent: AgentOption = "",
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Lock a customer: it is not suggested, merged, edited or split until unlocked."""
    with store_session(store) as session:
        try:
            result = customers.lock(session, customer_id, agent, reason)
        except ReviewError as error:
            fail(str(error))

    def render(r: dict[str, Any]) -> None:
        if r["redirected"]:
            _say(f"note: {r['redirected']}")
        _say(f"customer {r['customer_id']} locked by {r['locked_by']} (reason: {r['lock_reason']})")

    emit(result, fmt, render)


@customer_app.command("unlock")
def customer_unlock(
    customer_id: Annotated[int, typer.Argument(help="The customer to unlock.")],
    agent: AgentOption = "",
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Unlock a customer."""
    with store_session(store) as session:
        try:
            result = customers.unlock(session, customer_id, agent)
        except ReviewError as error:
            fail(str(error))

    def render(r: dict[str, Any]) -> None:
        if r["redirected"]:
            _say(f"note: {r['redirected']}")
        _say(f"customer {r['customer_id']} unlocked (was locked for: {r['previous_reason']})")

    emit(result, fmt, render)


@customer_app.command("edit")
def customer_edit(
    customer_id: Annotated[int, typer.Argument(help="The customer to edit.")],
    agent: AgentOption = "",
    first_name: Annotated[str | None, typer.Option(help="First name ('' clears it).")] = None,
    last_name: Annotated[str | None, typer.Option(help="Last name.")] = None,
    display_name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    company: Annotated[str | None, typer.Option(help="Company.")] = None,
    gender: Annotated[str | None, typer.Option(help="Gender.")] = None,
    city: Annotated[str | None, typer.Option(help="City.")] = None,
    postcode: Annotated[str | None, typer.Option(help="Postcode.")] = None,
    country: Annotated[str | None, typer.Option(help="Country.")] = None,
    birth_date: Annotated[
        str | None, typer.Option(help="Birth date (YYYY-MM-DD, DD/MM/YYYY, 11 Sep 2000).")
    ] = None,
    email: Annotated[
        list[str] | None, typer.Option("--email", help="Add an email address (repeatable).")
    ] = None,
    phone: Annotated[
        list[str] | None, typer.Option("--phone", help="Add a phone number (repeatable).")
    ] = None,
    remove_email: Annotated[
        list[str] | None, typer.Option("--remove-email", help="Remove an email address (repeatable).")
    ] = None,
    remove_phone: Annotated[
        list[str] | None, typer.Option("--remove-phone", help="Remove a phone number (repeatable).")
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Edit a customer's profile; values are validated like ingested data and kept by later merges."""
    fields = {
        "first_name": first_name, "last_name": last_name, "display_name": display_name, "company": company,
        "gender": gender, "city": city, "postcode": postcode, "country": country, "birth_date": birth_date,
        "emails": email, "phones": phone, "remove_emails": remove_email, "remove_phones": remove_phone,
    }  # fmt: skip
    changes = {key: value for key, value in fields.items() if value is not None}
    region = settings_for(store).ingest.default_region
    with store_session(store) as session:
        try:
            result = customers.edit_profile(session, customer_id, agent, changes, default_region=region)
        except ReviewError as error:
            fail(str(error))

    def render(r: dict[str, Any]) -> None:
        if r["unchanged"]:
            _say(f"customer {r['customer_id']}: nothing changed (the values were already set)")
            return
        console.print(
            table(
                f"customer {r['customer_id']} edited",
                ["field", "old", "new"],
                [[field, change["old"], change["new"]] for field, change in r["changed"].items()],
            )
        )

    emit(result, fmt, render)


@customer_app.command("comment")
def customer_comment(
    customer_id: Annotated[int, typer.Argument(help="The customer (a merged id comments on its survivor).")],
    text: Annotated[str, typer.Argument(help="The comment.")],
    agent: AgentOption = "",
    conversation: Annotated[
        int | None, typer.Option("--conversation", help="Comment on this conversation of the customer.")
    ] = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Add a comment to a customer's activity log (or one of its conversations); `customer show` lists them."""
    with store_session(store) as session:
        try:
            comment_id = customers.add_comment(
                session, agent, text, customer_id=customer_id, conversation_id=conversation
            )
        except ReviewError as error:
            fail(str(error))
    emit({"comment_id": comment_id}, fmt, lambda r: _say(f"comment {r['comment_id']} added"))
