"""The `idres` entry point: hand the command to the warm command runner when one is up, else run it here.

Python, polars, DuckDB, Prefect and Great Expectations take seconds to import before a command can
do anything. The warm runner (idres/runner.py, started beside the warm Prefect server) has them
imported already and forks a child per command, which runs it with this process's terminal
(stdin, stdout, stderr), arguments, environment and working directory, and reports the exit code.
Without a runner (none started yet, IDRES_PREFECT__WARM_SERVER=false, or it is gone) the command runs
in this process exactly as before. Long-running commands (`web`, `serve`) always run here.

The first flow command of a Prefect home (no runner yet) starts the warm Prefect server and the
runner in the background and waits for the runner, instead of importing everything itself while
those two import it again: on two cores three heavy starts at once took longer than two.

Only the standard library is imported here (and `domain.environment`, standard library only): the
variables are read through `PrefectEnvironment`, not domain.settings, because the whole point is to
decide before anything heavy is imported. (The cold start above loads the settings, for the
server's idle time and start-up timeout: it happens once.)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

from domain.environment import (
    PrefectEnvironment,
    UnreadablePrefectConfig,
    configured_api_url,
    runner_socket_path,
)

LONG_RUNNING = {"web", "serve"}  # they handle signals and run until stopped: not in a forked child
# the commands that run a flow on the warm Prefect server (idres/cli/common.run_flow)
FLOW_COMMANDS = {("ingest",), ("match",), ("merges", "apply"), ("export", "run"), ("anonymize", "run")}


def runner_socket(environ: dict[str, str] | os._Environ[str] = os.environ) -> Path:
    """The runner socket of the Prefect home in use (Prefect's default home: ~/.prefect)."""
    return runner_socket_path(PrefectEnvironment.read(environ).home)


def _command_words(argv: list[str]) -> list[str]:
    """The arguments that are not options (`--store` and `--config` take a value), in order."""
    words, skip_value = [], False
    for arg in argv:
        if skip_value:
            skip_value = False
        elif arg in ("--store", "--config"):  # the global options that take a value
            skip_value = True
        elif not arg.startswith("-"):
            words.append(arg)
    return words


def _config_option(argv: list[str]) -> Path | None:
    """The file `idres --config FILE` names, if any (the command's settings come from it)."""
    for arg, value in itertools.pairwise(argv):
        if arg == "--config":
            return Path(value)
    for arg in argv:
        if arg.startswith("--config="):
            return Path(arg.removeprefix("--config="))
    return None


def _first_command(argv: list[str]) -> str | None:
    words = _command_words(argv)
    return words[0] if words else None


def starts_runner(argv: list[str], environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """True when this command would use the warm server idres starts (a flow command, no other API)."""
    words = tuple(_command_words(argv))
    if words[:1] not in FLOW_COMMANDS and words[:2] not in FLOW_COMMANDS:
        return False
    home = PrefectEnvironment.read(environ).home
    if (home / "idres-warm-server" / "serve.json").exists():
        return False  # the server `idres serve` runs
    try:
        return configured_api_url(environ) is None  # else a server of the user's own
    except UnreadablePrefectConfig:
        return False  # run here: Prefect says what is wrong with the file


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


class _Refused(Exception):
    """The runner would not run the command (its code is older than the files)."""


def run_via_runner(argv: list[str], path: Path | None = None) -> int | None:
    """Run `idres ARGV` in the warm runner; its exit code, or None when there is no usable runner."""
    try:
        return _hand_over(argv, path or runner_socket())
    except _Refused:
        return None


def _hand_over(argv: list[str], path: Path) -> int | None:
    """The exit code from the runner at `path`; None when none listens there; _Refused when it refuses."""
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
            raise _Refused  # e.g. the runner's code is older than the files: run it here
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


def run_via_new_runner(argv: list[str]) -> int | None:
    """Start the warm server and runner in the background, wait for the runner and run `idres ARGV` there.

    None (run it here) when the warm server is off in the settings, the configuration is bad (the
    command then says what is wrong), the supervisor dies, the runner dies while starting (it says
    so), or the runner is not ready within the start-up timeout.
    """
    from domain.errors import ConfigurationError
    from domain.settings import load_settings
    from flows.warm_server import runner_died, start_in_background, state_dir, supervisor_alive

    try:
        prefect = load_settings(_config_option(argv)).prefect
    except ConfigurationError:
        return None
    if not prefect.warm_server:
        return None
    home = PrefectEnvironment.read().home
    state, started = start_in_background(home, prefect.idle_minutes * 60)
    if started and not {"-q", "--quiet"} & set(argv):
        print(
            "starting the warm Prefect server and command runner (later commands reuse them)", file=sys.stderr
        )
    if not started and time.time() - state.started_at > prefect.startup_timeout_s:
        return None  # an older server whose runner does not answer (restarting, or stale): run it here
    path = runner_socket()
    deadline = time.monotonic() + prefect.startup_timeout_s
    try:
        while time.monotonic() < deadline and supervisor_alive(state):
            try:
                code = _hand_over(argv, path)
            except _Refused:
                return None
            if code is not None:
                return code
            if runner_died(home, state):
                log = state_dir(home) / "server.log"
                print(f"the idres command runner stopped while starting (see {log}): running the command here",
                      file=sys.stderr)  # fmt: skip
                return None
            time.sleep(0.2)  # the runner is still importing
    except KeyboardInterrupt:
        return 130  # Ctrl-C while waiting: nothing was started but the (shared) server
    return None


def main() -> None:
    """`idres ...`: through the warm runner when possible, else in this process."""
    argv = sys.argv[1:]
    if wants_runner(argv):
        code = run_via_runner(argv)
        if code is None and starts_runner(argv):
            code = run_via_new_runner(argv)
        if code is not None:
            sys.exit(code)
    from idres.cli.app import main as run_here

    run_here()
