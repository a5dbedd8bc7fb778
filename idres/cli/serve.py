"""`idres serve`: the five flows on their schedules in one process, or one of them now."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from domain.settings import Settings
from flows.progress import cli_progress, phase_summary
from idres.cli.common import FormatOption, StoreOption, flow_settings, is_quiet, run_flow
from idres.output import OutputFormat, console, emit, err_console, fail, table


def serve(
    ctx: typer.Context,
    store: StoreOption = None,
    once: Annotated[
        str | None,
        typer.Option(
            "--once",
            help="Run this one flow now and exit instead of serving: ingest, match, apply-merges, export, "
            "anonymize, or all (in that order).",
        ),
    ] = None,
    limit: Annotated[
        int,
        typer.Option(help="Flow runs at the same time (1: runs queue up instead of waiting on the store)."),
    ] = 1,
    port: Annotated[
        int,
        typer.Option(help="Port of the Prefect server (UI and API) started when PREFECT_API_URL is unset."),
    ] = 4200,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Serve the scheduled flows (ingest, match, apply-merges, export, anonymize) until Ctrl-C.

    With PREFECT_API_URL set, the deployments are registered with that server; otherwise a local
    Prefect server (UI on --port) runs beside them for as long as this command runs.
    """
    settings = flow_settings(ctx, store)
    from flows.deployments import build_deployments

    if once is not None:
        _run_once(ctx, once, settings, fmt)
        return
    plan = build_deployments(settings)
    for key, reason in plan.skipped.items():
        err_console.print(f"[yellow]not serving {key}:[/] {reason}", highlight=False)
    if not plan.deployments:
        fail("no flow to serve: every flow is disabled or missing (see schedules.disabled in idres.toml)")
    console.print(
        table(
            f"Serving on store {settings.store} (cron in {settings.schedules.timezone})",
            ["deployment", "schedule"],
            [
                [
                    f"{d.flow_name}/{d.name}",
                    ", ".join(getattr(s.schedule, "cron", "?") for s in d.schedules or []) or "by hand",
                ]  # type: ignore[union-attr]
                for d in plan.deployments
            ],
        )
    )
    with _config_for_flow_runs(settings.origin.file):
        _serve(plan.deployments, limit, port, settings.store.parent / "prefect-server.log")


@contextmanager
def _config_for_flow_runs(file: Path | None) -> Iterator[None]:
    """Name the configuration file in use to the flow runs `prefect.serve` starts (child processes that
    read their own settings), so that `idres --config FILE serve` runs them with FILE too."""
    if file is None:
        yield
        return
    before = os.environ.get("IDRES_CONFIG")
    os.environ["IDRES_CONFIG"] = str(file.resolve())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("IDRES_CONFIG", None)
        else:
            os.environ["IDRES_CONFIG"] = before


def _serve(deployments: list[Any], limit: int, port: int, log_file: Path) -> None:
    import prefect
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    from flows.deployments import local_prefect_server
    from flows.runtime import forget_serve_server, record_serve_server

    if get_current_settings().api.url:
        console.print(f"Prefect server: {get_current_settings().api.url}", highlight=False)
        prefect.serve(*deployments, limit=limit)
        return
    home = Path(get_current_settings().home)
    with local_prefect_server(port, log_file) as api_url, temporary_settings({PREFECT_API_URL: api_url}):
        console.print(
            f"Prefect UI: {api_url.removesuffix('/api')} (server log: {log_file}); Ctrl-C stops both",
            highlight=False,
        )
        record_serve_server(home, api_url)  # other idres commands run their flows on it meanwhile
        try:
            prefect.serve(*deployments, limit=limit)
        finally:
            forget_serve_server(home)


def _run_once(ctx: typer.Context, name: str, settings: Settings, fmt: OutputFormat) -> None:
    from flows.deployments import SCHEDULED, scheduled_flow

    specs = (
        list(SCHEDULED) if name.strip().lower() == "all" else [scheduled_flow(name)]
    )  # UnknownFlow: exit 2
    results: dict[str, Any] = {}
    store = str(settings.store)
    with cli_progress(
        "idres serve --once", enabled=not is_quiet(ctx) and fmt == OutputFormat.text
    ) as progress:
        for spec in specs:
            flow = spec.load()  # a flow module that does not import is a bug: its traceback, not a message
            progress.phase(spec.flow_name)
            results[spec.flow_name] = run_flow(
                f"{spec.flow_name} failed",
                settings,
                partial(flow, store=store, settings=settings),
                quiet=is_quiet(ctx),
            )
    emit(results, fmt, lambda data: console.print_json(data=data, default=str))
    if fmt == OutputFormat.text:
        console.print(f"done: {phase_summary(progress)}", highlight=False)
