"""`idres serve` (the five flows on their schedules, in one process) and `idres report` (HTML)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated, Any

import typer

from idres.cli import app
from idres.cli_common import (
    FormatOption,
    StoreOption,
    flow_settings,
    is_quiet,
    run_flow,
    settings_for,
    store_session,
)
from idres.output import OutputFormat, console, emit, err_console, fail, table
from idres.progress import cli_progress, phase_summary
from idres.settings import Settings


@app.command()
def serve(
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
    settings = flow_settings(store)
    from flows.deployments import build_deployments

    if once is not None:
        _run_once(once, settings, fmt)
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
    _serve(plan.deployments, limit, port, settings.store.parent / "prefect-server.log")


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
    try:
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
    except RuntimeError as error:
        fail(str(error))


def _run_once(name: str, settings: Settings, fmt: OutputFormat) -> None:
    from flows.deployments import SCHEDULED, scheduled_flow

    try:
        specs = list(SCHEDULED) if name.strip().lower() == "all" else [scheduled_flow(name)]
    except ValueError as error:
        fail(str(error), code=2)
    results: dict[str, Any] = {}
    store = str(settings.store)
    with cli_progress("idres serve --once", enabled=not is_quiet() and fmt == OutputFormat.text) as progress:
        for spec in specs:
            try:
                flow = spec.load()
            except (ImportError, AttributeError) as error:
                fail(f"flow {spec.flow_name} is not available ({spec.module}.{spec.function}): {error}")
            progress.phase(spec.flow_name)
            results[spec.flow_name] = run_flow(
                f"{spec.flow_name} failed", settings, partial(flow, store=store)
            )
    emit(results, fmt, lambda data: console.print_json(data=data, default=str))
    if fmt == OutputFormat.text:
        console.print(f"done: {phase_summary(progress)}", highlight=False)


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    store: StoreOption = None,
    fmt: FormatOption = OutputFormat.text,
) -> None:
    """Write an offline HTML report: match probabilities, field weights, blocking rules, review backlog."""
    from reporting.html import collect, render
    from store import utcnow

    if out.suffix.lower() not in (".html", ".htm"):
        fail(f"the report is HTML: give --out a .html file name, not {out.name!r}", code=2)
    settings_for(store)
    with store_session(store, read_only=True) as session:
        data = collect(session)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(data, utcnow()), encoding="utf-8")
    summary = {"out": str(out), "bytes": out.stat().st_size, **data.counts}
    if not data.run_configs.is_empty():
        last = data.run_configs.row(-1, named=True)
        summary["latest_match_run"] = {k: last[k] for k in ("run_id", "config_id", "file", "set")}

    def render_text(s: dict[str, Any]) -> None:
        console.print(f"wrote {s['out']} ({s['bytes'] // 1024} KiB)", highlight=False)
        if "latest_match_run" in s:
            run = s["latest_match_run"]
            console.print(
                f"latest match run {run['run_id']}: configuration {run['config_id']}"
                + (f" from {run['file']}" if run["file"] else " (no idres.toml)")
                + (f", setting {run['set']}" if run["set"] else ", all defaults"),
                highlight=False,
            )

    emit(summary, fmt, render_text)


warm_app = typer.Typer(
    help="The warm Prefect server and command runner idres starts in the background (see README).",
    no_args_is_help=True,
)
app.add_typer(warm_app, name="prefect-server")


def _prefect_home() -> Path:
    flow_settings()  # before Prefect is imported
    from prefect.settings import get_current_settings

    return Path(get_current_settings().home)


@warm_app.command("status")
def prefect_server_status(fmt: FormatOption = OutputFormat.text) -> None:
    """Whether the warm Prefect server of this Prefect home runs: its UI, API, pid and idle stop."""
    from flows.warm_server import healthy, read_state, state_dir

    home = _prefect_home()
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


@warm_app.command("stop")
def prefect_server_stop() -> None:
    """Stop the warm Prefect server and command runner now (the next flow command starts them again)."""
    from flows.warm_server import stop_warm_server

    stopped = stop_warm_server(_prefect_home())
    console.print("stopped" if stopped else "no warm Prefect server was running", highlight=False)
