"""`idres prefect-server status|stop`: the warm Prefect server and command runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from idres.cli.common import FormatOption, flow_settings
from idres.output import OutputFormat, console, emit

group = typer.Typer(
    help="The warm Prefect server and command runner idres starts in the background (see README).",
    no_args_is_help=True,
)


def _prefect_home(ctx: typer.Context) -> Path:
    flow_settings(ctx)  # before Prefect is imported
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home)


@group.command("status")
def prefect_server_status(ctx: typer.Context, fmt: FormatOption = OutputFormat.text) -> None:
    """Whether the warm Prefect server of this Prefect home runs: its UI, API, pid and idle stop."""
    from flows.warm_server import healthy, read_state, state_dir

    home = _prefect_home(ctx)
    state = read_state(home)
    folder = state_dir(home)
    data: dict[str, Any] = {"prefect_home": str(home), "running": False, "log": str(folder / "server.log")}
    if state is not None:
        data.update(
            running=healthy(state.url),
            api_url=state.url,
            ui=state.url.removesuffix("/api"),
            pid=state.pid,
            idle_stop_minutes=round(state.idle_s / 60, 1),
            command_runner=(folder / "runner.sock").exists(),
        )
    emit(data, fmt, lambda d: console.print_json(data=d))


@group.command("stop")
def prefect_server_stop(ctx: typer.Context) -> None:
    """Stop the warm Prefect server and command runner now (the next flow command starts them again)."""
    from flows.warm_server import stop_warm_server

    stopped = stop_warm_server(_prefect_home(ctx))
    console.print("stopped" if stopped else "no warm Prefect server was running", highlight=False)
