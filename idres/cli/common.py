"""Options and helpers shared by the `idres` commands."""

from __future__ import annotations

import copy
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, TypeVar

import polars as pl
import typer
from typer.core import TyperGroup

from domain.errors import ConfigurationError, Unavailable, UserError
from domain.settings import Settings, load_settings
from idres.output import OutputFormat, err_console, fail, set_quiet
from store import Store, StoreError, open_store

T = TypeVar("T")

StoreOption = Annotated[
    Path | None,
    typer.Option(
        "--store", help="The DuckDB store file (default: IDRES_STORE, else data/store/idres.duckdb)."
    ),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text for people, json for scripts.")]
OutOption = Annotated[Path, typer.Option("--out", help="Output file: .parquet, .csv or .jsonl.")]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="The configuration file (same as IDRES_CONFIG; default: ./idres.toml, else the project's).",
        dir_okay=False,
    ),
]
QuietOption = Annotated[
    bool,
    typer.Option(
        "--quiet",
        "-q",
        help="Print only errors (and the JSON document with --format json): no progress, no Prefect INFO logs.",
    ),
]


@dataclass
class CliContext:
    """What the `idres` group callback hands every command (`ctx.obj`): the global options, the settings.

    The settings are resolved once per invocation, on first use (a command that reads none, like
    `idres sample`, does not fail on a bad idres.toml it never uses); a command's own `--store` goes on top.
    """

    store: Path | None = None  # `idres --store PATH COMMAND`
    quiet: bool = False  # `-q/--quiet`, before or after the command
    config: Path | None = None  # `idres --config FILE COMMAND`
    _settings: Settings | None = field(default=None, repr=False)

    def settings(self, store: Path | None = None) -> Settings:
        """The settings from env and config file, with `--store` on top; bad configuration exits 2."""
        if self._settings is None:
            # a SettingsError is a ConfigurationError: the error handler says it, exit 2
            self._settings = load_settings(config=self.config, store=self.store)
        if store is not None and store != self._settings.store:
            return self._settings.model_copy(update={"store": store})
        return self._settings

    def store_given(self, store: Path | None) -> bool:
        """True when the store was named on the command line (before or after the command)."""
        return (store or self.store) is not None


def start_invocation(ctx: typer.Context, store: Path | None, quiet: bool, config: Path | None = None) -> None:
    """Give the invocation its context (called by the group callback once per command line)."""
    ctx.obj = CliContext(store=store, quiet=quiet, config=config)
    set_quiet(quiet)  # console state lives as long as the process: reset for each invocation


def cli_context(ctx: typer.Context) -> CliContext:
    """The invocation's context, made by the group callback (a bare one for commands invoked on their own)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
    obj: CliContext = root.obj
    return obj


def is_quiet(ctx: typer.Context) -> bool:
    """True when `-q/--quiet` was given, before or after the command."""
    return cli_context(ctx).quiet


def _quiet_given(ctx: Any, param: Any, value: bool) -> bool:
    if value:
        cli_context(ctx).quiet = True
        set_quiet(True)
    return value


def _quiet_parameter() -> Any:
    """The `-q/--quiet` option as Typer builds it, to add to commands that do not declare it."""
    probe = typer.Typer()

    @probe.command()
    def _probe(quiet: QuietOption = False) -> None:
        """Only here to let Typer build the option."""

    command = typer.main.get_command(probe)
    (parameter,) = [p for p in command.params if p.name == "quiet"]
    parameter = copy.copy(parameter)
    parameter.expose_value = False  # commands read it with is_quiet(ctx)
    parameter.callback = _quiet_given
    return parameter


def _leaf_commands(group: Any) -> Iterator[Any]:
    for command in getattr(group, "commands", {}).values():
        if hasattr(command, "commands"):
            yield from _leaf_commands(command)
        else:
            yield command


_stopped_by: list[int] = []  # the signal a KeyboardInterrupt stands for, when it was SIGTERM


def _terminated(signum: int, frame: object) -> None:
    _stopped_by[:] = [signum]
    raise KeyboardInterrupt


def sigterm_as_ctrl_c() -> None:
    """Make SIGTERM behave as Ctrl-C does (KeyboardInterrupt), in this process; call it from the main thread.

    A service manager, `timeout` or a container runtime stops a command with SIGTERM; it should end
    the way Ctrl-C ends it (the flows finish the step at hand, see compliance/interrupt.py), with
    exit code 143, not be killed between two statements.
    """
    _stopped_by.clear()
    signal.signal(signal.SIGTERM, _terminated)


class IdresGroup(TyperGroup):
    """The root command group: every sub-command accepts `-q/--quiet`; the one place errors are rendered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        quiet = _quiet_parameter()
        for command in _leaf_commands(self):
            if all(param.name != "quiet" for param in command.params):
                command.params.append(quiet)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a `UserError` is its message and exit code, anything else a bug (traceback)."""
        try:
            return super().invoke(ctx)
        except UserError as error:
            fail(error.message, code=error.exit_code)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (sigterm_as_ctrl_c): the shell's 130 or 143
            signum = _stopped_by[0] if _stopped_by else signal.SIGINT
            err_console.print(f"interrupted ({signal.Signals(signum).name})", highlight=False)
            raise typer.Exit(128 + signum) from None


def settings_for(ctx: typer.Context, store: Path | None = None) -> Settings:
    """The invocation's settings, with the command's `--store` on top; bad configuration exits 2."""
    return cli_context(ctx).settings(store)


def match_config_for(settings: Settings) -> Any:
    """The effective matching configuration; a bad [match] exits 2 naming the file and the problem."""
    from matching.config import ConfigError, MatchConfig

    try:
        return MatchConfig.from_settings(settings.match)
    except ConfigError as error:  # the engine's message, with the file it came from
        raise ConfigurationError(f"{settings.origin.file or 'settings'}: [match]: {error}") from error


def flow_settings(ctx: typer.Context, store: Path | None = None) -> Settings:
    """Settings for a command that runs flows, with idres' Prefect settings put in the environment.

    Call it before importing a flow module: Prefect reads its settings when it is first imported.
    """
    from flows.runtime import prepare_prefect

    settings = settings_for(ctx, store)
    prepare_prefect(settings.prefect)
    return settings


@contextmanager
def store_session(ctx: typer.Context, store: Path | None, read_only: bool = False) -> Iterator[Store]:
    """Open the configured store for one command; store errors exit with their message."""
    settings = settings_for(ctx, store)
    try:
        with open_store(
            settings.store, read_only=read_only, busy_timeout_s=settings.store_busy_timeout_s
        ) as session:
            yield session
    except StoreError as error:  # a store that is missing, busy or broken is said with its statement
        raise UserError(str(error)) from error


def run_flow(
    failure: str,
    settings: Settings,
    call: Callable[[], T],
    passthrough: tuple[type[BaseException], ...] = (),
    quiet: bool = False,
) -> T:
    """Run `call` (a flow) on a warm Prefect API; Prefect trouble is retried once, then explained.

    `failure` starts the error line (`ingest failed`) of the flow's user errors, except those in
    `passthrough`, which are raised for the command to explain. Any other error is a bug in idres: it is
    raised as it is, with its traceback.
    """
    from flows.runtime import PrefectUnavailable, is_prefect_failure, prefect_api

    for attempt in (1, 2):
        try:
            with prefect_api(settings.prefect, quiet=quiet):
                return call()
        except typer.Exit:
            raise
        except passthrough:
            raise
        except PrefectUnavailable as error:
            raise Unavailable(f"{failure}: no Prefect server: {error}") from error
        # Not a catch-all: Prefect's own failures (httpx, its API errors) are retried once, then
        # explained; a user error (the flow logged the details) gets the command's failure line;
        # anything else is re-raised as it is, a bug with its traceback.
        except Exception as error:
            if not is_prefect_failure(error):
                if isinstance(error, UserError | StoreError):
                    code = error.exit_code if isinstance(error, UserError) else 1
                    raise UserError(f"{failure}: {error}", exit_code=code) from error
                raise
            if attempt == 2:
                raise Unavailable(
                    f"{failure}: Prefect did not answer ({type(error).__name__}: {error}). Every store "
                    "write is one transaction, so the store is consistent: run the command again. If it "
                    "keeps failing, see the server log in <PREFECT_HOME>/idres-warm-server/server.log, set "
                    "PREFECT_API_URL to a running Prefect server, or IDRES_PREFECT__WARM_SERVER=false."
                ) from error
            err_console.print(f"Prefect did not answer ({type(error).__name__}); trying once more")
    raise AssertionError("unreachable")


def write_frame(frame: pl.DataFrame, out: Path) -> None:
    """Write a frame by the file's extension; CSV gets list columns joined with ';'."""
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".parquet":
        frame.write_parquet(out)
    elif suffix == ".jsonl":
        frame.write_ndjson(out)
    elif suffix == ".csv":
        lists = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.List)]
        frame.with_columns(pl.col(name).list.join(";") for name in lists).write_csv(out)
    else:
        fail(f"unknown output format {out.suffix!r}: use .parquet, .csv or .jsonl", code=2)
