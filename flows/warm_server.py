"""The warm Prefect server: one background `prefect server start` per Prefect home, shared by commands.

Every flow command needs a Prefect API. Starting Prefect's temporary server costs 10-25 s per
command (more under load), so the first command starts a real server in the background and the
next ones reuse it. Files in `<PREFECT_HOME>/idres-warm-server/`:

- `lock`: held (exclusively) while a command checks, starts or replaces the server, and by the
  supervisor while it stops it, so concurrent commands never start two servers for one home;
- `in-use`: held shared by every command while it runs flows, so the server is not stopped under it;
- `state.json`: the supervisor's pid, the port and the API URL; `last-used`: touched by each command;
- `server.log`: the server's output (and the command runner's);
- `runner.json`: the command runner the supervisor started (its pid, the supervisor's pid), so a
  command waiting for it sees at once when it died while importing.

A small supervisor process (this file run as a script) starts the server on a free port, stops it
after `idle_s` seconds without a command, and removes `state.json` when the server exits. A server
that does not answer is detected by the next command, stopped and replaced.

Only the standard library is imported here: the supervisor must start in a fraction of a second.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

from domain.environment import SERVER_ONLY_VARIABLE, PrefectEnvironment, runner_socket_path
from domain.errors import Unavailable
from flows.prefect_template import seed_home

STATE_DIR = "idres-warm-server"
RUNNER_FILE = "runner.json"
START_ATTEMPTS = 3  # another program can take the free port between choosing and binding it


class WarmServerError(Unavailable, RuntimeError):
    """The warm server could not be started or reached; the message says what to do."""


@dataclass(frozen=True)
class ServerState:
    """A running warm server: its supervisor's pid, port and API URL."""

    pid: int
    port: int
    url: str
    started_at: float
    idle_s: float


def state_dir(home: Path) -> Path:
    """Where the warm server of Prefect home `home` keeps its files."""
    return Path(home) / STATE_DIR


def read_state(home: Path) -> ServerState | None:
    """The recorded server of `home`, if any (it may have died since)."""
    try:
        return ServerState(**json.loads((state_dir(home) / "state.json").read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_state(home: Path, state: ServerState) -> None:
    path = state_dir(home) / "state.json"
    partial = path.with_suffix(".tmp")
    partial.write_text(json.dumps(asdict(state)))
    partial.replace(path)  # atomic: a reader sees the old state or the new one


def _clear_state(home: Path, pid: int) -> None:
    state = read_state(home)
    if state is not None and state.pid == pid:
        (state_dir(home) / "state.json").unlink(missing_ok=True)


def healthy(url: str, timeout_s: float = 3.0) -> bool:
    """True when the Prefect API at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout_s) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _alive(pid: int) -> bool:
    """True when `pid` is a running warm-server supervisor (not a reused pid of something else)."""
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"warm_server" in command


@contextmanager
def _locked(path: Path, mode: int) -> Iterator[IO[str]]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _touch(home: Path) -> None:
    (state_dir(home) / "last-used").touch()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_environment(port: int) -> dict[str, str]:
    """Environment of a `prefect server start` on `port`: its UI points at that port, not 4200."""
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    env.update(
        PREFECT_SERVER_API_HOST="127.0.0.1",
        PREFECT_SERVER_API_PORT=str(port),
        PREFECT_UI_API_URL=f"http://127.0.0.1:{port}/api",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
    )
    env[SERVER_ONLY_VARIABLE] = "PREFECT_SERVER_API_HOST,PREFECT_SERVER_API_PORT,PREFECT_UI_API_URL"
    return env


def _command_environment() -> dict[str, str]:
    """The supervisor's environment without what only the server needs (the runner's commands use it)."""
    server_only = PrefectEnvironment.read().server_only
    return {k: v for k, v in os.environ.items() if k not in server_only and k != SERVER_ONLY_VARIABLE}


def stop(home: Path, state: ServerState, wait_s: float = 15.0) -> None:
    """Stop the supervisor of `state` and its server (its own process group), and forget it."""
    if _alive(state.pid):
        with suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGTERM)
        deadline = time.monotonic() + wait_s
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(state.pid):
            with suppress(ProcessLookupError):
                os.killpg(state.pid, signal.SIGKILL)
    _clear_state(home, state.pid)


def _spawn(home: Path, idle_s: float) -> tuple[ServerState, subprocess.Popen[bytes]]:
    """Start a supervisor on a free port and record it (the caller holds the lock); it is not up yet."""
    log_path = state_dir(home) / "server.log"
    port = _free_port()
    env = server_environment(port)
    try:
        seed_home(home, env)  # a migrated database, when the home would get a new one: seconds saved
    except OSError as error:  # the server migrates one itself, as without a template
        with log_path.open("a") as log:
            print(f"the Prefect database template was not copied: {error}", file=log)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--home",
                str(home),
                "--port",
                str(port),
                "--idle",
                str(idle_s),
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # its own process group: stopping it stops the server too
            env=env,
        )
    state = ServerState(process.pid, port, f"http://127.0.0.1:{port}/api", time.time(), idle_s)
    _write_state(home, state)
    return state, process


def _start(home: Path, idle_s: float, startup_timeout_s: float) -> ServerState:
    """Start a supervisor and wait until its server answers (the caller holds the lock)."""
    log_path = state_dir(home) / "server.log"
    for _attempt in range(START_ATTEMPTS):
        state, process = _spawn(home, idle_s)
        deadline = time.monotonic() + startup_timeout_s
        while time.monotonic() < deadline and process.poll() is None:
            if healthy(state.url):
                return state
            time.sleep(0.3)
        exited = process.poll() is not None
        stop(home, state)
        process.wait()
        if not exited:
            raise WarmServerError(
                f"the Prefect server did not answer within {startup_timeout_s:.0f} s (see {log_path}); "
                "the machine may be very busy: raise IDRES_PREFECT__STARTUP_TIMEOUT_S, or set "
                "PREFECT_API_URL to a running server"
            )
    raise WarmServerError(
        f"the Prefect server exited while starting, {START_ATTEMPTS} times (see {log_path}); "
        "set PREFECT_API_URL to a running server, or IDRES_PREFECT__WARM_SERVER=false"
    )


def ensure(home: Path, idle_s: float, startup_timeout_s: float) -> ServerState:
    """The answering warm server of `home`, started or replaced as needed (safe to call concurrently)."""
    folder = state_dir(home)
    with _locked(folder / "lock", fcntl.LOCK_EX):
        state = read_state(home)
        if state is not None and _alive(state.pid):
            # a server another command is still starting gets the rest of its start-up time
            deadline = state.started_at + startup_timeout_s
            while True:
                if healthy(state.url):
                    _touch(home)
                    return state
                if time.time() > deadline or not _alive(state.pid):
                    break
                time.sleep(0.3)
        if state is not None:  # dead or not answering: replace it
            stop(home, state)
        state = _start(home, idle_s, startup_timeout_s)
        _touch(home)
        return state


def start_in_background(home: Path, idle_s: float) -> tuple[ServerState, bool]:
    """The warm server of `home` and whether it was started now (if none ran), without waiting for it.

    The launcher calls it for a first flow command: the server and the command runner start at
    once, and the command goes to the runner when it is ready (`ensure`, in the command, then waits
    for the server for the rest of its start-up time). Safe to call concurrently.
    """
    with _locked(state_dir(home) / "lock", fcntl.LOCK_EX):
        state = read_state(home)
        if state is not None and _alive(state.pid):
            return state, False
        if state is not None:
            stop(home, state)
        state, _process = _spawn(home, idle_s)
        _touch(home)
        return state, True


def supervisor_alive(state: ServerState) -> bool:
    """True while the supervisor of `state` runs."""
    return _alive(state.pid)


def _running(pid: int) -> bool:
    """True when process `pid` exists and has not exited (a zombie its parent has not reaped has)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return status[0] not in ("Z", "X")


def runner_died(home: Path, state: ServerState) -> bool:
    """True when the command runner the supervisor of `state` started has exited (say, a crash while importing).

    False while that supervisor has not started one yet. Its next start is at most once a minute.
    """
    try:
        record = json.loads((state_dir(home) / RUNNER_FILE).read_text())
        pid, supervisor = int(record["pid"]), int(record["supervisor"])
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return supervisor == state.pid and not _running(pid)


@contextmanager
def warm_server(home: Path, idle_s: float, startup_timeout_s: float) -> Iterator[str]:
    """The warm server's API URL for the block; the server is not stopped while the block runs."""
    folder = state_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "in-use").open("a") as in_use:
        # shared before `ensure` returns the URL: an idle stop needs it exclusively, so it waits
        fcntl.flock(in_use, fcntl.LOCK_SH)
        try:
            yield ensure(home, idle_s, startup_timeout_s).url
        finally:
            _touch(home)
            fcntl.flock(in_use, fcntl.LOCK_UN)


def stop_warm_server(home: Path) -> bool:
    """Stop the warm server of `home` if one runs; True when one was stopped."""
    with _locked(state_dir(home) / "lock", fcntl.LOCK_EX):
        state = read_state(home)
        if state is None:
            return False
        stop(home, state)
        return True


def _idle_for(home: Path) -> float:
    try:
        return time.time() - (state_dir(home) / "last-used").stat().st_mtime
    except OSError:
        return float("inf")


def _try_lock(path: Path) -> IO[str] | None:
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


class _CommandRunner:
    """The warm command runner (idres/runner.py) beside the server, restarted when it exits."""

    RESTART_GAP_S = 60.0  # a runner that keeps failing is not restarted in a loop
    COMMAND = ("-m", "idres.runner")  # run by this interpreter, with `--socket PATH`

    def __init__(self, home: Path) -> None:
        self.home = home
        self.socket_path = runner_socket_path(home)
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        self.keep_up()

    def keep_up(self) -> None:
        """Start the runner if it is not running (at most once per RESTART_GAP_S)."""
        if self.process is not None and self.process.poll() is None:
            return
        if self.process is not None and time.monotonic() - self.started < self.RESTART_GAP_S:
            return
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            [sys.executable, *self.COMMAND, "--socket", str(self.socket_path)],
            stdin=subprocess.DEVNULL,
            env=_command_environment(),
        )
        record = {"pid": self.process.pid, "supervisor": os.getpid()}
        partial = state_dir(self.home) / "runner.tmp"
        partial.write_text(json.dumps(record))
        partial.replace(state_dir(self.home) / RUNNER_FILE)  # atomic, as state.json

    def stop(self) -> None:
        """Stop the runner (commands it is running finish in their own processes)."""
        self.socket_path.unlink(missing_ok=True)  # no new command goes to it
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def supervise(home: Path, port: int, idle_s: float, poll_s: float = 2.0) -> int:
    """Run `prefect server start` on `port` until it exits, is stopped, or `idle_s` pass unused."""
    command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
    server = subprocess.Popen([*command, "--port", str(port), "--analytics-off"], stdin=subprocess.DEVNULL)
    folder = state_dir(home)
    runner = _CommandRunner(home)

    def on_term(signum: int, frame: object) -> None:
        runner.stop()
        server.terminate()

    signal.signal(signal.SIGTERM, on_term)
    try:
        while server.poll() is None:
            time.sleep(poll_s)
            runner.keep_up()
            if _idle_for(home) < idle_s:
                continue
            lock = _try_lock(folder / "lock")
            if lock is None:
                continue
            try:
                in_use = _try_lock(folder / "in-use")
                if in_use is None:  # a command is running flows on it
                    continue
                try:
                    if _idle_for(home) >= idle_s:
                        print(f"idle for {idle_s:.0f} s: stopping", flush=True)
                        runner.stop()
                        server.terminate()
                        server.wait(timeout=30)
                        _clear_state(home, os.getpid())
                finally:
                    in_use.close()
            finally:
                lock.close()
    finally:
        runner.stop()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        _clear_state(home, os.getpid())
    return 0


def main() -> int:
    """`python flows/warm_server.py --home H --port P --idle S`: the supervisor (started by `ensure`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=float, required=True)
    args = parser.parse_args()
    return supervise(args.home, args.port, args.idle)


if __name__ == "__main__":
    sys.exit(main())
