"""Ctrl-C (a real SIGINT) or SIGTERM during `idres anonymize run`, through the CLI and the Prefect flow in
a child process: the run stops between requests, says what is done (and which signal stopped it),
fails nothing, halves nothing, and the next run finishes and verifies every request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compliance.requests import list_requests, request_anonymization
from domain.settings import Settings
from store import open_store
from tests.compliance.builders import people_store
from tests.compliance.erasure_files import (
    ALICE_SPELLINGS,
    erasure_settings,
    leftovers,
    owned_files_under,
    plant_copies,
)

ROOT = Path(__file__).resolve().parents[2]
# the child is the real CLI (`idres anonymize run`); the step hook only says when SIGINT is sent: once
# (Ctrl-C) or twice (Ctrl-C, Ctrl-C), as the kernel delivers a terminal's Ctrl-C to the process
_CLI = """
import os, signal, sys, time
from compliance import erasure_run

step, times, store, signum = sys.argv[1], int(sys.argv[2]), sys.argv[3], signal.Signals[sys.argv[4]]
sent = []


def interrupt(at, request_id):
    if at == step and not sent:
        sent.append(at)
        for _ in range(times):
            os.kill(os.getpid(), signum)
            time.sleep(0.2)  # the handler runs between the two, as with two key presses


erasure_run.STEP_HOOK = interrupt if times else None
sys.argv = ["idres", "anonymize", "run", "--store", store]
from idres.launcher import main

main()
"""


def _cli(
    settings: Settings, root: Path, step: str = "", times: int = 0, signum: str = "SIGINT"
) -> subprocess.CompletedProcess[str]:
    from prefect.settings import PREFECT_API_URL

    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "PREFECT_API_URL": str(PREFECT_API_URL.value()),  # the session's test server
        "IDRES_PREFECT__WARM_SERVER": "false",  # the command runs in this child, not in a warm runner
        "IDRES_COMPLIANCE__EXPORT_DIR": str(root / "exports"),
        "IDRES_COMPLIANCE__ANONYMIZATION_KEY_FILE": str(root / "anonymization.key"),
        "IDRES_INGEST__LANDING_DIR": str(root / "landing"),
        "IDRES_INGEST__DATA_DOCS_DIR": str(root / "gx_docs"),
    }
    return subprocess.run(
        [sys.executable, "-c", _CLI, step, str(times), str(settings.store), signum],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def _state(settings: Settings) -> dict[int, tuple[str, str]]:
    """Request id -> (request status, its customer's status)."""
    with open_store(settings.store) as store:
        return {
            int(r["request_id"]): (
                r["status"],
                store.scalar("SELECT status FROM customers WHERE customer_id = ?", [r["customer_id"]]),
            )
            for r in list_requests(store, kind="anonymize")
        }


@pytest.mark.slow
@pytest.mark.parametrize(
    ("step", "times", "signum"), [("erase:before-commit", 1, "SIGINT"), ("rewrite:copied", 1, "SIGTERM"),
                                  ("erase:committed", 2, "SIGINT"), ("rewrite:swapped", 2, "SIGINT")],
)  # fmt: skip
def test_ctrl_c_during_idres_anonymize_run_leaves_every_request_resumable(
    tmp_path: Path, settings: Settings, tmp_path_factory: pytest.TempPathFactory, prefect_harness: None,
    step: str, times: int, signum: str,
) -> None:  # fmt: skip
    with people_store(tmp_path, settings, tmp_path_factory) as store:
        plant_copies(store, erasure_settings(tmp_path)[1])
        alice = request_anonymization(store, "dpo", customer_id=1)["request_id"]
        chloe = request_anonymization(store, "dpo", customer_id=4)["request_id"]

    stopped = _cli(settings, tmp_path, step, times, signum)
    output = stopped.stdout + stopped.stderr
    state = _state(settings)
    # nothing half-erased: a pending request's customer is intact, an erased one's customer is anonymized
    for request_id, (status, customer) in state.items():
        assert (status, customer) in {("pending", "active"), ("erasing", "anonymized"), ("done", "anonymized")}, (
            request_id, state, output[-3000:],
        )  # fmt: skip
    if times == 1:  # Ctrl-C or SIGTERM: the request at hand and the erased ones are finished and verified
        assert stopped.returncode == 0, output[-3000:]
        assert {status for status, _ in state.values()} <= {"done", "pending"}, state
        done = sorted(i for i, (s, _) in state.items() if s == "done")
        later = sorted(i for i, (s, _) in state.items() if s == "pending")
        said = "interrupted ({}): done and verified: {}; not started (still pending): {}".format(
            "Ctrl-C" if signum == "SIGINT" else signum,
            ", ".join(map(str, done)) or "none",
            ", ".join(map(str, later)) or "none",
        )
        assert said in output, output[-3000:]
        if step == "erase:before-commit":
            assert state == {alice: ("done", "anonymized"), chloe: ("pending", "active")}
    else:  # Ctrl-C twice: stops at once; erased requests stay `erasing` for the next run, and it says so
        assert stopped.returncode == 130, output[-3000:]
        erasing = sorted(i for i, (s, _) in state.items() if s == "erasing")
        assert erasing, state
        assert f"interrupted: request(s) {', '.join(map(str, erasing))} erased, to be verified" in output
    assert "failed" not in {status for status, _ in state.values()}

    again = _cli(settings, tmp_path)
    assert again.returncode == 0, (again.stdout + again.stderr)[-3000:]
    assert _state(settings) == {alice: ("done", "anonymized"), chloe: ("done", "anonymized")}
    assert leftovers(owned_files_under(tmp_path), ALICE_SPELLINGS) == []
