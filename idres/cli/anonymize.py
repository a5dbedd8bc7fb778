"""`idres anonymize request|run`: erasure requests, carried out irreversibly."""

from __future__ import annotations

import typer

from domain.statuses import RequestKind
from idres.cli.common import FormatOption, StoreOption
from idres.cli.requests import (
    CustomerOption,
    CustomersOption,
    EmailOption,
    PhoneOption,
    ReasonOption,
    RequestedByOption,
    YesOption,
    queue_request,
    run_request_flow,
)
from idres.output import OutputFormat

group = typer.Typer(help="Erasure requests: irreversible anonymization.", no_args_is_help=True)


@group.command("request")
def anonymize_request(
    ctx: typer.Context,
    requested_by: RequestedByOption,
    customer: CustomerOption = None,
    email: EmailOption = None,
    phone: PhoneOption = None,
    reason: ReasonOption = None,
    customers: CustomersOption = None,
    yes: YesOption = False,
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Queue an irreversible anonymization of a person (name them by exactly one of id, e-mail, phone).

    Every customer that may be the person is shown with why; you confirm which the request covers.
    """
    queue_request(
        ctx, RequestKind.ANONYMIZE, store, fmt, customer, email, phone, requested_by, reason, customers, yes
    )


@group.command("run")
def anonymize_run(
    ctx: typer.Context, store: StoreOption = None, fmt: FormatOption = OutputFormat.text
) -> None:
    """Anonymize and verify pending erasure requests now, with the retention policy (the `anonymize` flow)."""
    run_request_flow(ctx, RequestKind.ANONYMIZE, store, fmt)
