"""`idres customer show|merge|search|lock|unlock|edit|comment`: one customer (an identity group)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.panel import Panel

from domain.statuses import CustomerStatus
from idres.cli.common import FormatOption, StoreOption, settings_for, store_session
from idres.cli.merges import AgentOption as MergeAgentOption
from idres.cli.merges import CommentOption as MergeCommentOption
from idres.output import OutputFormat, console, emit, fail, say, table
from review import customers
from store.identities import PROFILE_COLUMNS
from store.views import record as record_view

group = typer.Typer(help="Look at and act on one customer (an identity group).", no_args_is_help=True)

AgentOption = Annotated[str, typer.Option("--agent", help="Who decides (recorded and audited).")]


@group.command("show")
def customer_show(
    ctx: typer.Context,
    customer_id: Annotated[int, typer.Argument(help="Customer id (a merged-away id shows its survivor).")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """A customer's profile, identities, conversations, recent messages and comments."""
    with store_session(ctx, store) as session:
        record = record_view.customer_record(session, customer_id)
    if record is None:
        fail(f"no customer {customer_id}")
    emit(record, fmt, _render_customer)


def _value_source(sources: dict[str, Any], field: str) -> str:
    """Where a profile value came from: per field after a merge, the one identity before any."""
    if sources.get("source") == "identity":
        return f"  (identity {sources.get('identity_id')})"
    source = sources.get(field)
    if not isinstance(source, dict):
        return ""
    if source.get("rule") == "agent_edited":
        return "  (edited by an agent)"
    return f"  (identity {source.get('identity_id')}, {source.get('channel')}, {source.get('rule')})"


def _render_customer(record: dict[str, Any]) -> None:
    profile = record["profile"]
    if record["redirected_from"]:
        console.print(
            f"customer {record['requested_id']} was merged into {record['customer_id']}; showing the survivor",
            style="yellow",
            highlight=False,
        )
    flags = []
    if profile.get("locked"):
        flags.append(f"LOCKED ({profile.get('lock_reason') or 'no reason given'})")
    if profile.get("status") != CustomerStatus.ACTIVE:
        flags.append(str(profile.get("status")).upper())
    fields = [column for column in PROFILE_COLUMNS if column != "profile_sources"]
    sources = profile.get("profile_sources") or {}
    lines = [
        f"{name}: {profile.get(name)}{_value_source(sources, name)}"
        for name in fields
        if profile.get(name) not in (None, [], "")
    ]
    console.print(
        Panel.fit(
            "\n".join(lines) or "(empty profile)",
            title=f"customer {record['customer_id']} {' '.join(flags)}".strip(),
        ),
        markup=False,
        highlight=False,
    )
    console.print(
        table(
            "Identities",
            ["id", "channel", "external id", "name", "email", "phone"],
            [
                [
                    i["identity_id"],
                    i["channel"],
                    i["external_id"],
                    i["display_name"] or " ".join(filter(None, [i["first_name"], i["last_name"]])),
                    i["email_norm"],
                    i["phone_e164"],
                ]
                for i in record["identities"]
            ],
        )
    )
    if record["conversations"]:
        console.print(
            table(
                "Conversations",
                ["id", "channel", "title", "messages", "agent replies", "last"],
                [
                    [
                        c["conversation_id"],
                        c["channel"],
                        c["title"],
                        c["messages"],
                        c["agent_replies"],
                        c["last_message_at"],
                    ]
                    for c in record["conversations"]
                ],
            )
        )
    if record["recent_messages"]:
        console.print(
            table(
                "Recent messages",
                ["when", "channel", "from", "body"],
                [
                    [
                        m["created_at"],
                        m["channel"],
                        m["agent_name"] or m["author_kind"],
                        (m["body"] or "")[:80],
                    ]
                    for m in record["recent_messages"]
                ],
            )
        )
    if record["comments"]:
        console.print(
            table(
                "Comments",
                ["when", "agent", "comment"],
                [[c["created_at"], c["agent"], c["body"]] for c in record["comments"]],
            )
        )


@group.command("merge")
def customer_merge(
    ctx: typer.Context,
    customer_a: Annotated[int, typer.Argument(help="One customer id.")],
    customer_b: Annotated[int, typer.Argument(help="The other customer id.")],
    agent: MergeAgentOption,
    comment: MergeCommentOption = None,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Merge two customers now (the lower id survives); audited and undoable with `idres merges undo`."""
    from review.merging import merge_customers

    settings = settings_for(ctx, store)
    with store_session(ctx, store) as session:
        merge = merge_customers(session, customer_a, customer_b, agent, settings.review, comment)
    emit(
        merge,
        fmt,
        lambda m: console.print(
            f"merge {m['merge_id']}: customer {m['absorbed_id']} merged into {m['survivor_id']} "
            f"({m['identities_moved']} identities moved); undo with `idres merges undo {m['merge_id']} "
            f"--agent NAME`" + (f"\nnote: {m['note']}" if m.get("note") else ""),
            highlight=False,
            markup=False,
        ),
    )


@group.command("search")
def customer_search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A name, email, phone number or @handle (typos are fine).")],
    limit: Annotated[int, typer.Option(help="At most this many identities.")] = 20,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Find identities of active customers by name, email, phone or handle, best match first."""
    region = settings_for(ctx, store).ingest.default_region
    with store_session(ctx, store, read_only=True) as session:
        rows = customers.search_identities(session, query, limit, default_region=region)
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


@group.command("lock")
def customer_lock(
    ctx: typer.Context,
    customer_id: Annotated[
        int, typer.Argument(help="The customer to lock (a merged id locks its survivor).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown to everyone who tries to change it).")],
    agent: AgentOption = "",
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Lock a customer: it is not suggested, merged, edited or split until unlocked."""
    with store_session(ctx, store) as session:
        result = customers.lock(session, customer_id, agent, reason)

    def render(r: dict[str, Any]) -> None:
        if r["redirected"]:
            say(f"note: {r['redirected']}")
        say(f"customer {r['customer_id']} locked by {r['locked_by']} (reason: {r['lock_reason']})")

    emit(result, fmt, render)


@group.command("unlock")
def customer_unlock(
    ctx: typer.Context,
    customer_id: Annotated[int, typer.Argument(help="The customer to unlock.")],
    agent: AgentOption = "",
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Unlock a customer."""
    with store_session(ctx, store) as session:
        result = customers.unlock(session, customer_id, agent)

    def render(r: dict[str, Any]) -> None:
        if r["redirected"]:
            say(f"note: {r['redirected']}")
        say(f"customer {r['customer_id']} unlocked (was locked for: {r['previous_reason']})")

    emit(result, fmt, render)


@group.command("edit")
def customer_edit(
    ctx: typer.Context,
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
    region = settings_for(ctx, store).ingest.default_region
    with store_session(ctx, store) as session:
        result = customers.edit_profile(session, customer_id, agent, changes, default_region=region)

    def render(r: dict[str, Any]) -> None:
        if r["unchanged"]:
            say(f"customer {r['customer_id']}: nothing changed (the values were already set)")
            return
        console.print(
            table(
                f"customer {r['customer_id']} edited",
                ["field", "old", "new"],
                [[field, change["old"], change["new"]] for field, change in r["changed"].items()],
            )
        )

    emit(result, fmt, render)


@group.command("comment")
def customer_comment(
    ctx: typer.Context,
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
    with store_session(ctx, store) as session:
        comment_id = customers.add_comment(
            session, agent, text, customer_id=customer_id, conversation_id=conversation
        )
    emit({"comment_id": comment_id}, fmt, lambda r: say(f"comment {r['comment_id']} added"))
