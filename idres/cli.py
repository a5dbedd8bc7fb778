"""`idres`: the one command that drives ingest, matching, review and compliance."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel

from idres.cli_common import (
    FormatOption,
    IdresGroup,
    QuietOption,
    StoreOption,
    flow_settings,
    is_quiet,
    run_flow,
    set_global_options,
    store_session,
)
from idres.output import OutputFormat, console, emit, err_console, fail, table
from store import reports
from store.identities import PROFILE_COLUMNS

app = typer.Typer(
    name="idres",
    help="Identity resolution for contact centres: ingest channel identities, match them into customers, "
    "review merges, and carry out export and erasure requests.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    cls=IdresGroup,  # adds -q/--quiet to every sub-command
)
customer_app = typer.Typer(help="Look at and act on one customer (an identity group).", no_args_is_help=True)
quarantine_app = typer.Typer(
    help="Rows that failed validation, kept with file, row and reason.", no_args_is_help=True
)
app.add_typer(customer_app, name="customer")
app.add_typer(quarantine_app, name="quarantine")


@app.callback()
def _global_options(store: StoreOption = None, quiet: QuietOption = False) -> None:
    """Options for every command: `idres --store PATH -q COMMAND` (a command's own --store wins)."""
    set_global_options(store, quiet)


@app.command()
def ingest(
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
    settings = flow_settings(store)
    if preset is not None:
        from ingest.presets import PRESETS

        if preset not in PRESETS:
            fail(f"unknown preset {preset!r}; presets: {', '.join(PRESETS)}", code=2)
    from flows.ingest import ingest_flow
    from idres.progress import cli_progress

    began = time.perf_counter()
    with cli_progress("ingest", enabled=not is_quiet() and fmt == OutputFormat.text):
        results = run_flow(
            "ingest failed",
            settings,
            lambda: ingest_flow(
                paths=[str(p) for p in paths] if paths else None,
                store=str(settings.store),
                kind=kind,
                channel=channel,
                preset=preset,
            ),
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
    if any(r["status"] in ("failed", "rejected") for r in results):
        for r in results:
            if r["status"] == "failed":  # stderr: stdout holds only the JSON document with --format json
                err_console.print(f"[red]failed:[/] {r['error']}", markup=True, highlight=False)
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
        if r["status"] == "unchanged":
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


@app.command()
def status(store: StoreOption = None, fmt: FormatOption = OutputFormat.text) -> None:
    """Counts per table and channel, the last ingest batches, and the quarantine."""
    with store_session(store) as session:
        data = reports.status(session)
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


@customer_app.command("show")
def customer_show(
    customer_id: Annotated[int, typer.Argument(help="Customer id (a merged-away id shows its survivor).")],
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """A customer's profile, identities, conversations, recent messages and comments."""
    with store_session(store) as session:
        record = reports.customer_record(session, customer_id)
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
    if profile.get("status") != "active":
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


@quarantine_app.command("list")
def quarantine_list(
    batch: Annotated[int | None, typer.Option(help="Only rows of this ingest batch.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Quarantined rows with file, row number, failed expectation and the raw row."""
    with store_session(store) as session:
        rows = reports.quarantine_rows(session, batch, limit)
        total = reports.quarantine_count(session, batch)
    emit(
        rows,
        fmt,
        lambda data: _render_quarantine(data, total),
    )


def _render_quarantine(data: list[dict[str, Any]], total: int) -> None:
    console.print(
        table(
            "Quarantine",
            ["id", "batch", "file", "row", "reason", "raw row"],
            [
                [
                    q["quarantine_id"],
                    q["batch_id"],
                    q["file_path"],
                    q["row_number"],
                    q["reason"],
                    (q["raw_row"] or "")[:120],  # the whole row is in --format json
                ]
                for q in data
            ],
        )
    )
    more = " (newest first; --limit N for more, --batch N for one file)" if len(data) < total else ""
    console.print(f"{len(data)} of {total} quarantined row(s){more}", highlight=False)


@app.command()
def sample(
    identities: Annotated[int, typer.Option(help="How many identities to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("data/samples/demo"),
) -> None:
    """Generate realistic channel exports with the ground truth kept apart (truth.csv)."""
    from data.generator import generate, write_sample

    files = write_sample(generate(identities, seed=seed), out)
    console.print(f"wrote {len(files)} files to {out}", highlight=False)


def main() -> None:
    """Entry point for `python -m idres`: bad configuration anywhere exits 2 with its message, no traceback."""
    from idres.settings import SettingsError

    try:
        app()
    except SettingsError as error:
        from idres.output import err_console

        err_console.print(f"error: {error}", markup=False, highlight=False)
        raise SystemExit(2) from None


# Sub-commands live in their own modules and register themselves on `app` when imported:
# demo; match, suggestions, customers, evaluate; merges, customer merge; suggestions approve/reject,
# customer search/lock/edit/comment; web, users; serve, report; export, anonymize, requests; config;
# quarantine export/retry.
from idres import (  # noqa: E402,F401
    cli_compliance,
    cli_config,
    cli_demo,
    cli_match,
    cli_merges,
    cli_ops,
    cli_quarantine,
    cli_review,
    cli_web,
)
