"""`idres export request|run|decrypt`: data-access / portability requests and their bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from domain.statuses import RequestKind
from idres.cli.common import FormatOption, StoreOption, settings_for
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
from idres.output import OutputFormat, console

group = typer.Typer(help="Data-access / portability requests and their bundles.", no_args_is_help=True)


@group.command("request")
def export_request(
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
    """Queue an export of everything stored about a person (name them by exactly one of id, e-mail, phone).

    Every customer that may be the person is shown with why; you confirm which the request covers.
    """
    queue_request(
        ctx, RequestKind.EXPORT, store, fmt, customer, email, phone, requested_by, reason, customers, yes
    )


@group.command("run")
def export_run(ctx: typer.Context, store: StoreOption = None, fmt: FormatOption = OutputFormat.text) -> None:
    """Produce bundles for pending export requests now (the `export` flow)."""
    run_request_flow(ctx, RequestKind.EXPORT, store, fmt)


@group.command("decrypt")
def export_decrypt(
    ctx: typer.Context,
    bundle_file: Annotated[Path, typer.Argument(help="The bundle (.zip or .zip.enc).", exists=True, dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", help="An empty or new folder for the files.")],
    passphrase: Annotated[
        str | None,
        typer.Option(
            "--passphrase", envvar="IDRES_BUNDLE_PASSPHRASE",
            help="The bundle passphrase (default: the configured export passphrase, else asked for).",
        ),
    ] = None,
) -> None:  # fmt: skip
    """Check a bundle's checksums and unpack it (decrypting it first when it is encrypted)."""
    from exports import extract_bundle, is_encrypted

    if passphrase is None and is_encrypted(bundle_file.read_bytes()[:16]):
        passphrase = settings_for(ctx).compliance.export_passphrase or typer.prompt(
            "passphrase", hide_input=True
        )
    manifest = extract_bundle(bundle_file, out, passphrase)
    console.print(
        f"request {manifest.get('request_id')}: {len(manifest['files']) + 1} files checked and written to {out}",
        highlight=False,
    )
