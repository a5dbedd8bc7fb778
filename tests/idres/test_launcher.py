"""The `idres` launcher and the warm command runner it hands commands to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from idres.launcher import run_via_runner, runner_socket, starts_runner, wants_runner
from idres.runner import ROOT


def test_long_running_commands_and_a_disabled_warm_server_run_here() -> None:
    assert wants_runner(["status"], {}) and wants_runner(["--store", "x.duckdb", "ingest", "a.csv"], {})
    assert not wants_runner(["web"], {}) and not wants_runner(["--store", "web", "serve"], {})
    assert not wants_runner(["--config", "idres.toml", "web"], {})
    assert wants_runner(["--config", "web.toml", "status"], {})
    assert not wants_runner(["status"], {"IDRES_PREFECT__WARM_SERVER": "false"})
    assert runner_socket({"PREFECT_HOME": "/tmp/ph"}) == Path("/tmp/ph/idres-warm-server/runner.sock")


def test_only_flow_commands_on_the_warm_server_start_the_runner(tmp_path: Path) -> None:
    home = {"PREFECT_HOME": str(tmp_path)}
    assert starts_runner(["ingest", "a.csv"], home) and starts_runner(["--store", "s", "-q", "match"], home)
    assert starts_runner(["merges", "apply"], home) and starts_runner(["anonymize", "run", "-q"], home)
    assert not starts_runner(["status"], home) and not starts_runner(["merges", "log"], home)
    assert not starts_runner(["ingest"], {**home, "PREFECT_API_URL": "http://127.0.0.1:4200/api"})
    profiles = tmp_path / "profiles.toml"
    profiles.write_text('active = "local"\n[profiles.local]\n# PREFECT_API_URL = "http://h:4200/api"\n')
    assert starts_runner(["ingest"], home)  # a commented-out line names no server
    profiles.write_text('active = "local"\n[profiles.local]\nPREFECT_API_URL = "http://h:4200/api"\n')
    assert not starts_runner(["ingest"], home)  # the user's active Prefect profile names a server
    profiles.write_text("active = \n")
    assert not starts_runner(["ingest"], home)  # not TOML: run here, where Prefect says what is wrong


def test_without_a_runner_the_command_runs_here(tmp_path: Path) -> None:
    assert run_via_runner(["status"], tmp_path / "nothing.sock") is None
    (tmp_path / "stale.sock").touch()  # a socket file nobody listens on
    assert run_via_runner(["status"], tmp_path / "stale.sock") is None


@pytest.mark.slow
@pytest.mark.xdist_group("code-files")  # one touches the code files, which makes any runner stale
def test_the_runner_runs_commands_and_stops_when_the_code_changes(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    socket_path = tmp_path / "runner.sock"
    log = (tmp_path / "runner.log").open("w")
    runner = subprocess.Popen(
        [sys.executable, "-m", "idres.runner", "--socket", str(socket_path)], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 300
        while not socket_path.exists() and runner.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert socket_path.exists(), (tmp_path / "runner.log").read_text()
        store = tmp_path / "s.duckdb"
        capfd.readouterr()
        assert run_via_runner(["status", "--store", str(store), "--format", "json"], socket_path) == 0
        assert json.loads(capfd.readouterr().out)["store"] == str(store)  # printed by the runner's child
        assert run_via_runner(["customer", "show", "9", "--store", str(store)], socket_path) == 1
        assert "no customer 9" in capfd.readouterr().err
        # polars work in the child (the runner must not have started polars' thread pool: it would hang)
        client = (
            "import sys; from pathlib import Path; from idres.launcher import run_via_runner; "
            "sys.exit(run_via_runner(sys.argv[2:], Path(sys.argv[1])))"
        )
        sample = subprocess.run(
            [
                sys.executable,
                "-c",
                client,
                str(socket_path),
                "sample",
                "--identities",
                "30",
                "--out",
                str(tmp_path / "sample"),
            ],
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert sample.returncode == 0, sample.stderr
        assert (tmp_path / "sample" / "truth" / "truth.csv").is_file()
        os.utime(ROOT / "idres" / "__init__.py")  # the code changed after the runner imported it
        assert run_via_runner(["status", "--store", str(store)], socket_path) is None
        runner.wait(timeout=30)
        assert not socket_path.exists()
    finally:
        if runner.poll() is None:
            runner.kill()
        log.close()


def test_the_runner_child_shows_a_bug_with_its_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from idres.runner import run_app

    store = tmp_path / "s.duckdb"
    assert run_app(["customer", "show", "9", "--store", str(store)]) == 1
    assert "no customer 9" in capsys.readouterr().err  # a user error: its message

    def bug(*args: object) -> None:
        raise KeyError("schema_version")

    monkeypatch.setattr("store.views.status.status", bug)
    assert run_app(["status", "--store", str(store)]) == 1
    err = capsys.readouterr().err
    assert "KeyError" in err and "schema_version" in err and "Traceback" in err


@pytest.mark.slow
@pytest.mark.xdist_group("code-files")  # one touches the code files, which makes any runner stale
def test_the_first_flow_command_starts_the_runner_and_runs_in_it(tmp_path: Path) -> None:
    from flows.warm_server import read_state, stop_warm_server

    home = tmp_path / "prefect-home"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), IDRES_INGEST__DATA_DOCS_DIR=str(tmp_path / "docs"))
    env.pop("IDRES_PREFECT__WARM_SERVER", None)
    store = tmp_path / "s.duckdb"

    def ingest(n: int) -> subprocess.CompletedProcess[str]:
        path = tmp_path / f"one{n}.csv"
        path.write_text(f"channel,external_id,email\nemail,e{n}@example.com,e{n}@example.com\n")
        command = [sys.executable, "-m", "idres", "ingest", str(path), "--store", str(store)]
        return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)

    try:
        first = ingest(1)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "starting the warm Prefect server and command runner" in first.stderr
        state = read_state(home)
        assert state is not None and runner_socket({"PREFECT_HOME": str(home)}).exists()
        # the runner the command was handed to is up, for the next commands
        log = (home / "idres-warm-server" / "server.log").read_text()
        assert "runner ready" in log
        second = ingest(2)
        assert second.returncode == 0, second.stderr[-3000:]
        assert "starting the warm" not in second.stderr and read_state(home) == state  # the same server
    finally:
        stop_warm_server(home)


def test_the_supervisor_records_its_runner_so_a_crash_is_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows import warm_server

    home = tmp_path / "home"
    warm_server.state_dir(home).mkdir(parents=True)
    monkeypatch.setattr(
        warm_server._CommandRunner, "COMMAND", ("-c", "raise SystemExit(3)")
    )  # dies importing
    runner = warm_server._CommandRunner(home)
    mine = warm_server.ServerState(os.getpid(), 1, "http://127.0.0.1:1/api", time.time(), 60.0)
    other = warm_server.ServerState(os.getpid() + 1, 1, "http://127.0.0.1:1/api", time.time(), 60.0)
    assert runner.process is not None and runner.process.wait(timeout=60) == 3
    assert warm_server.runner_died(home, mine)  # exited, and not reaped yet: a zombie is dead too
    assert not warm_server.runner_died(home, other)  # another supervisor's runner: not started yet


def test_a_runner_that_dies_while_starting_sends_the_command_here_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from flows import warm_server
    from idres.launcher import run_via_new_runner

    home = tmp_path / "home"
    monkeypatch.setenv("PREFECT_HOME", str(home))
    monkeypatch.setenv("IDRES_PREFECT__WARM_SERVER", "true")  # the suite turns it off
    # a stand-in supervisor (its command line names warm_server) that lives 30 s: the old launcher
    # waited for the runner as long as the supervisor lived (or the 300 s start-up timeout)
    supervisor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "warm_server"])
    crashed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    crashed.wait()
    try:
        state = warm_server.ServerState(supervisor.pid, 1, "http://127.0.0.1:1/api", time.time(), 60.0)
        monkeypatch.setattr(warm_server, "start_in_background", lambda home, idle_s: (state, True))
        warm_server.state_dir(home).mkdir(parents=True)
        record = {"pid": crashed.pid, "supervisor": supervisor.pid}
        (warm_server.state_dir(home) / warm_server.RUNNER_FILE).write_text(json.dumps(record))
        assert run_via_new_runner(["ingest", "a.csv", "-q"]) is None  # run it here
        assert supervisor.poll() is None  # it did not wait for the supervisor to end
        assert "runner stopped while starting" in capsys.readouterr().err
    finally:
        supervisor.kill()
        supervisor.wait()
