"""`idres web`: the review page in a browser."""

from __future__ import annotations

from typing import Annotated

import typer

from domain.errors import UserError
from idres.cli.common import StoreOption, settings_for
from idres.output import console
from store import StoreError


def web(
    ctx: typer.Context,
    store: StoreOption = None,
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
) -> None:
    """Serve the review queue and customer information panel in a browser."""
    import uvicorn

    from web.app import create_app

    settings = settings_for(ctx, store)
    try:
        application = create_app(settings)
    except StoreError as error:  # busy for longer than the wait, or unreadable (a bug shows its traceback)
        raise UserError(f"could not start the web page: {error}") from error
    console.print(
        f"idres web on http://{host or settings.web.host}:{port or settings.web.port} (store {settings.store})",
        highlight=False,
    )
    uvicorn.run(application, host=host or settings.web.host, port=port or settings.web.port, log_level="info")
