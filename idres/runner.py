"""The warm command runner: every idres module imported once; each command runs in a forked child.

Started by the warm-server supervisor (flows/warm_server.py) beside the Prefect server, stopped with
it. `idres/launcher.py` connects to its Unix socket and sends its terminal (file descriptors 0-2),
arguments, environment and working directory; the runner forks, the child takes those over, runs
the Typer app and sends back its exit code. Children are independent processes, so concurrent
commands behave as if each had been started on its own (DuckDB's one-writer lock included).

Fork is safe here because the runner only imports: no thread, event loop, connection or polars
thread pool exists in it when it forks (checked at start).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import signal
import socket
import struct
import sys
import tempfile
import threading
from pathlib import Path

PACKAGES = (
    "anonymize",
    "compliance",
    "exports",
    "flows",
    "idres",
    "ingest",
    "matching",
    "review",
    "store",
    "web",
)
ROOT = Path(__file__).resolve().parent.parent


def code_signature() -> float:
    """The newest modification time of the project's Python files (a newer one makes the runner stale)."""
    newest = 0.0
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            try:
                newest = max(newest, path.stat().st_mtime)
            except OSError:
                continue
    return newest


# what commands import on their way (found with `python -X importtime` and sys.modules after a run)
PRELOAD = (
    "idres.cli.app",
    "flows.ingest",
    "flows.match",
    "flows.apply_merges",
    "flows.export",
    "flows.anonymize",
    "compliance.runner",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.artifacts",
    "prefect.concurrency.v1.sync",
    "prefect.concurrency.sync",
    "prefect.input",
    "prefect.runtime",
    "prefect.server.schemas.core",
    "prefect.client.cloud",
    "cryptography.hazmat.primitives.ciphers.aead",
    "email_validator",
    "graphviz",
    "great_expectations.render.renderer.site_builder",
    # imported by every flow command's forked child, found with `python -X importtime` in a child:
    # Prefect serializes a flow's parameters with FastAPI's jsonable_encoder, importing FastAPI
    # (0.2-0.8 s per command); the rest are the idres and library modules a flow run imports lazily
    "fastapi.encoders",
    "flows.runtime",
    "store.migrations",
    "matching.address",
    "matching.contact",
    "matching.crossfield",
    "matching.names",
    "anyio._core._sockets",
    "anyio._core._streams",
    "prefect.utilities.visualization",
    "pandas.core.methods.to_dict",
    "rich._emoji_codes",
    "typer._adapters",
    "typer._click.decorators",
)


def preload() -> None:
    """Import what commands need (the seconds the launcher saves), without starting anything."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as error:  # an optional part missing: the commands import it themselves
            print(f"not preloaded: {name}: {error}", flush=True)
    _warm_up_validation()
    _prepare_validation()
    # first uses that fill caches (pydantic schemas, Typer's command tree), paid once, not per command
    import typer
    from prefect.settings import get_current_settings

    from idres.cli.app import app

    get_current_settings()
    typer.main.get_command(app)
    threads = _unsafe_threads()
    if threads:
        raise RuntimeError(f"a thread runs after the imports ({threads}): forking would be unsafe")


def _warm_up_validation() -> None:
    """Validate a one-row pandas batch with Data Docs in a scratch folder: GX imports the rest of itself.

    No polars computation here: it would start polars' thread pool, which a forked child cannot use
    (it hangs). Building polars expressions computes nothing.
    """
    import pandas as pd
    import tqdm

    from ingest import validate as validation

    tqdm.tqdm.monitor_interval = 0  # no tqdm monitor thread (GX's progress bars): the runner forks
    rules = [validation._not_null("channel")]
    with tempfile.TemporaryDirectory() as scratch:
        validation.start_deferred_data_docs()
        try:
            setup = validation._setup("identities", rules, Path(scratch))
            gx = validation._gx()
            run_id = gx.RunIdentifier(run_name="warm-up")
            validation._validate_batch(setup, {"dataframe": pd.DataFrame({"channel": ["email"]})}, run_id)
        finally:
            validation.build_deferred_data_docs()
        validation._SETUPS.clear()  # the scratch folder is gone


def _prepare_validation() -> None:
    """Build the GX set-ups of the data-docs folder of the runner's settings: its ingests' children reuse them.

    The runner's environment and folder are those of the command that started it, so its settings
    are usually its commands' too; a command whose settings differ (another folder or rules) builds
    its own, as without a runner. Nothing is validated here (no polars computation).
    """
    from domain.settings import load_settings
    from ingest.pipeline import prepare_validation

    try:
        prepare_validation(load_settings().ingest)
    # A catch-all on purpose: this only saves time, a command meeting the same trouble (a bad
    # configuration, a data-docs folder it cannot write) reports it itself, and the runner must start
    except Exception as error:
        print(f"GX set-ups not prepared: {type(error).__name__}: {error}", flush=True)


def _unsafe_threads() -> list[str]:
    """Threads a forked child would miss: Python threads, and polars' or tokio's worker pools."""
    names = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    for task in Path("/proc/self/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
        except OSError:
            continue
        if re.fullmatch(r"polars-\d+|tokio-rt-worker", comm):
            names.append(comm)
    return names


# set by idres itself (preload, flows.runtime.prepare_prefect), so present in the runner's environment
# and not in a command's: neither changes what a command's Prefect client does (analytics is the
# server's; the start-up timeout is put in force by flows.runtime.prefect_api), so neither is a reason
# to re-read Prefect's settings (about a second per command)
_SET_BY_IDRES = frozenset(
    {"PREFECT_SERVER_ANALYTICS_ENABLED", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"}
)


def _prefect_variables(environ: object) -> dict[str, str]:
    return {
        k: v
        for k, v in dict(environ).items()  # type: ignore[call-overload]
        if k.startswith("PREFECT_") and k not in _SET_BY_IDRES
    }


def _receive(connection: socket.socket) -> tuple[dict[str, object], list[int]]:
    header, fds, _flags, _address = socket.recv_fds(connection, 8, 3)
    (length,) = struct.unpack("!Q", header)
    body = bytearray()
    while len(body) < length:
        chunk = connection.recv(min(1 << 20, length - len(body)))
        if not chunk:
            raise ConnectionError("the launcher went away")
        body += chunk
    return dict(json.loads(body)), fds


def _send(connection: socket.socket, message: dict[str, object]) -> None:
    connection.sendall(json.dumps(message).encode() + b"\n")


def _run_child(connection: socket.socket, request: dict[str, object], fds: list[int]) -> int:
    """In the forked child: become the launcher's command and run it; returns the exit code."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    prefect_before = _prefect_variables(os.environ)
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
    os.chdir(str(request["cwd"]))
    os.setpgid(0, 0)  # its own process group: stopping the runner's group never stops a command
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from idres.cli.common import sigterm_as_ctrl_c

    sigterm_as_ctrl_c()  # as in a process of its own (idres.cli.app.main)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if _prefect_variables(os.environ) != prefect_before:
        # Prefect read its settings and logging set-up from the runner's environment at import time:
        # read them again from the command's (about a second; not needed when they are the same)
        import prefect.context
        from prefect.logging.configuration import setup_logging

        prefect.context.refresh_global_settings_context()
        setup_logging(incremental=False)
    from idres import output

    output.console.__init__()  # type: ignore[misc]  # colours and width of the command's terminal
    output.err_console.__init__(stderr=True)  # type: ignore[misc]
    return run_app([str(arg) for arg in list(request["argv"])])  # type: ignore[call-overload]


def run_app(argv: list[str]) -> int:
    """Run `idres ARGV` as the forked child does; its exit code (a bug prints its traceback first)."""
    from idres.cli.app import app

    sys.argv = ["idres", *argv]
    try:
        app(args=argv, prog_name="idres")
    except SystemExit as stop:
        return stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except KeyboardInterrupt:
        return 130
    # Not a catch-all: the child ends with os._exit right after this, so nothing above would print
    # the bug; it gets the traceback it would get in a process of its own, and exit code 1.
    except Exception as error:
        sys.excepthook(type(error), error, error.__traceback__)
        return 1
    return 0


def serve(path: Path) -> None:
    """Accept launcher connections on `path` until terminated; one forked child per command."""
    preload()
    signature = code_signature()
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    os.chmod(path, 0o600)  # only this user's commands
    listener.listen(64)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    print(f"runner ready on {path}", flush=True)
    while True:
        connection, _ = listener.accept()
        try:
            request, fds = _receive(connection)
        except (OSError, ValueError, ConnectionError):
            connection.close()
            continue
        if code_signature() != signature:  # the code changed since the imports: not this runner's job
            _send(connection, {"stale": True})
            connection.close()
            for fd in fds:
                os.close(fd)
            print("the project's code changed: stopping (the next warm start imports it anew)", flush=True)
            path.unlink(missing_ok=True)
            return
        sys.stdout.flush()
        sys.stderr.flush()
        child = os.fork()
        if child == 0:
            listener.close()
            code = 1
            try:
                _send(connection, {"pid": os.getpid()})
                code = _run_child(connection, request, fds)
            finally:
                try:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    _send(connection, {"exit": code})
                finally:
                    os._exit(code)
        connection.close()
        for fd in fds:
            os.close(fd)


def main() -> None:
    """`python -m idres.runner --socket PATH`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--socket", type=Path, required=True)
    serve(parser.parse_args().socket)


if __name__ == "__main__":
    main()
