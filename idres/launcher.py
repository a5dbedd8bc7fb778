"""The `idres` entry point: hand the command to the warm command runner when one is up, else run it here.

Python, polars, DuckDB, Prefect and Great Expectations take seconds to import before a command can
do anything. The warm runner (idres/runner.py, started beside the warm Prefect server) has them
imported already and forks a child per command, which runs it with this process's terminal
(stdin, stdout, stderr), arguments, environment and working directory, and reports the exit code.
Without a runner (none started yet, IDRES_PREFECT__WARM_SERVER=false, or it is gone) the command runs
in this process exactly as before. Long-running commands (`web`, `serve`) always run here.

Only the standard library is imported here (and `domain.environment`, standard library only): the
variables are read through `PrefectEnvironment`, not domain.settings, because the whole point is to
decide before anything heavy is imported.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys
from pathlib import Path
from typing import Any

from domain.environment import PrefectEnvironment

RUNNER_SOCKET = "runner.sock"
LONG_RUNNING = {"web", "serve"}  # they handle signals and run until stopped: not in a forked child


def runner_socket(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """The runner socket of the Prefect home in use (Prefect's default home: ~/.prefect)."""
    return PrefectEnvironment.read(environ).home / "idres-warm-server" / RUNNER_SOCKET


def _first_command(argv: list[str]) -> str | None:
    skip_value = False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg in ("--store", "--config"):  # the global options that take a value
            skip_value = True
        elif not arg.startswith("-"):
            return arg
    return None


def wants_runner(argv: list[str], environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """True when this command may go to the warm runner."""
    if not PrefectEnvironment.read(environ).warm_server:
        return False
    return _first_command(argv) not in LONG_RUNNING


def _read_line(connection: socket.socket, buffer: bytearray) -> dict[str, Any] | None:
    while b"\n" not in buffer:
        chunk = connection.recv(4096)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return dict(json.loads(line))


def run_via_runner(argv: list[str], path: Path | None = None) -> int | None:
    """Run `idres ARGV` in the warm runner; its exit code, or None when there is no usable runner."""
    path = path or runner_socket()
    if not path.exists():
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        return None
    with connection:
        request = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd()}).encode()
        sys.stdout.flush()
        sys.stderr.flush()
        # the terminal itself goes to the child: prompts, colours and Ctrl-C behave as here
        socket.send_fds(connection, [struct.pack("!Q", len(request))], [0, 1, 2])
        connection.sendall(request)
        buffer = bytearray()
        started = _read_line(connection, buffer)
        if started is None or "pid" not in started:
            return None  # refused (e.g. the runner's code is older than the files): run it here
        child = int(started["pid"])

        def forward(signum: int, frame: object) -> None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, forward)
        finished = _read_line(connection, buffer)
    if finished is None or "exit" not in finished:
        print("error: the idres command runner stopped while running the command", file=sys.stderr)
        return 1
    return int(finished["exit"])


def main() -> None:
    """`idres ...`: through the warm runner when possible, else in this process."""
    argv = sys.argv[1:]
    if wants_runner(argv):
        code = run_via_runner(argv)
        if code is not None:
            sys.exit(code)
    from idres.cli.app import main as run_here

    run_here()
