"""Ctrl-C and SIGTERM (real signals) during `idres ingest`, through the CLI and the Prefect flow in a child
process: both stop the run the same way. The file being loaded is finished, the next is not started,
the command says so and exits 130 (SIGINT) or 143 (SIGTERM); the next run loads the rest. Files loaded
jointly (one set of statements, `load_jointly`) are one step: a signal during it lets it finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from store import open_store

ROOT = Path(__file__).resolve().parents[2]
HEADER = "channel,external_id,first_name,last_name,email\n"
# the child is the real CLI (`idres ingest a.csv b.csv c.csv`); the hook only says when the signal is
# sent: while b.csv is being loaded, between two statements of the load
_CLI = """
import os, sys, time
import flows.ingest

signum, store, paths = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
import ingest.pipeline

original, original_batches = flows.ingest.load, ingest.pipeline.load_identity_batches


def load(session, prepared, *args):
    if signum and prepared.raw.path.name == "b.csv":
        os.kill(os.getpid(), signum)
        time.sleep(0.2)  # the handler runs here, in the middle of the file's load
    return original(session, prepared, *args)


def load_identity_batches(session, frames, *args):
    if signum and len(frames) > 1:
        os.kill(os.getpid(), signum)
        time.sleep(0.2)  # in the middle of a joint load
    return original_batches(session, frames, *args)


flows.ingest.load = load
ingest.pipeline.load_identity_batches = load_identity_batches
sys.argv = ["idres", "ingest", *paths, "--store", store]
from idres.launcher import main

main()
"""


def _files(folder: Path, jointly: bool = False) -> list[Path]:
    """a.csv, b.csv, c.csv of identities; unless `jointly`, c holds a message of c@example.com instead
    (a group with messages loads one file at a time; c's author becomes an identity)."""
    paths = []
    for name in ("a", "b", "c"):
        path = folder / f"{name}.csv"
        path.write_text(HEADER + f"email,{name}@example.com,Ann,{name.upper()}ee,{name}@example.com\n")
        paths.append(path)
    if not jointly:
        paths[2].write_text(
            "thread_id,message_id,channel,external_id,body,created_at\n"
            "t1,m1,email,c@example.com,Hello,2024-01-01T10:00:00Z\n"
        )
    return paths


def _cli(root: Path, store: Path, paths: list[Path], signum: int = 0) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the session's test server
        "IDRES_PREFECT__WARM_SERVER": "false",  # the command runs in this child, not in a warm runner
        "IDRES_INGEST__DATA_DOCS_DIR": str(root / "gx_docs"),
    }
    return subprocess.run(
        [sys.executable, "-c", _CLI, str(signum), str(store), *map(str, paths)],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _loaded(store: Path) -> list[str]:
    with open_store(store) as session:
        return [
            str(row["external_id"]) for row in session.rows("SELECT external_id FROM identities ORDER BY 1")
        ]


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_during_idres_ingest_finishes_the_file_at_hand_and_starts_no_other(
    tmp_path: Path, prefect_harness: None, signum: int
) -> None:
    store = tmp_path / "store.duckdb"
    paths = _files(tmp_path)

    stopped = _cli(tmp_path, store, paths, signum)
    output = stopped.stdout + stopped.stderr
    assert stopped.returncode == 128 + signum, output[-3000:]
    assert _loaded(store) == ["a@example.com", "b@example.com"], output[-3000:]  # b whole, c not started
    assert "interrupted: 1 file(s) not started" in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]

    again = _cli(tmp_path, store, paths)  # the next run loads what was left
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert _loaded(store) == ["a@example.com", "b@example.com", "c@example.com"]


@pytest.mark.slow
def test_a_signal_during_a_joint_load_lets_it_finish(tmp_path: Path, prefect_harness: None) -> None:
    store = tmp_path / "store.duckdb"
    paths = _files(tmp_path, jointly=True)

    stopped = _cli(tmp_path, store, paths, signal.SIGINT)
    output = stopped.stdout + stopped.stderr
    # nothing was left to do: the three files were one step, which finished
    assert stopped.returncode == 0, output[-3000:]
    assert _loaded(store) == ["a@example.com", "b@example.com", "c@example.com"], output[-3000:]
    assert "Traceback" not in output, output[-3000:]

    again = _cli(tmp_path, store, paths)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert again.stdout.count("unchanged") >= 3, again.stdout[-3000:]
