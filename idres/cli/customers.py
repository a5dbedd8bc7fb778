"""`idres customers export`: every customer with its identities."""

from __future__ import annotations

import typer

from idres.cli.common import OutOption, StoreOption, store_session, write_frame
from idres.output import console
from store.views import exports

group = typer.Typer(help="All customers at once (exports).", no_args_is_help=True)


@group.command("export")
def customers_export(ctx: typer.Context, out: OutOption, store: StoreOption = None) -> None:
    """Every customer with its identities (channel:external_id)."""
    with store_session(ctx, store) as session:
        frame = exports.customers_for_export(session)
    write_frame(frame, out)
    console.print(f"wrote {frame.height} customers to {out}", highlight=False)
