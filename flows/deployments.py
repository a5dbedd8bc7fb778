"""The five scheduled deployments (ingest, match, apply-merges, export, anonymize) for `idres serve`.

`prefect.yaml` declares the same deployments for a process work pool; tests keep the two in step.
Flow modules are imported by path only when a deployment is built, so a flow that is missing
(or fails to import) leaves the others served and is reported instead of stopping them all.
"""

from __future__ import annotations

import importlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from domain.errors import BadArgument, Unavailable
from domain.settings import ScheduleSettings, Settings
from flows.warm_server import server_environment

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment


@dataclass(frozen=True)
class ScheduledFlow:
    """One flow served on a schedule: where it lives and which `ScheduleSettings` field times it."""

    key: str  # ScheduleSettings field, also the name used by `--once` and `schedules.disabled`
    module: str
    function: str
    flow_name: str  # the Prefect flow name

    @property
    def deployment_name(self) -> str:
        """The deployment's name (`<flow name>/<deployment name>` in Prefect)."""
        return f"idres-{self.flow_name}"

    @property
    def entrypoint(self) -> str:
        """The entrypoint of the deployment: module path, then the function (`flows.ingest.ingest_flow`).

        Not the file form `flows/ingest.py:ingest_flow`: Prefect loads a file with its folder on
        sys.path, where `flows/ingest.py` would hide the `ingest` package it imports.
        """
        return f"{self.module}.{self.function}"

    def cron(self, schedules: ScheduleSettings) -> str:
        """The configured cron string ('' when the flow only runs when started by hand)."""
        return str(getattr(schedules, self.key))

    def load(self) -> Flow[..., Any]:
        """Import the flow object (raises ImportError/AttributeError when it is not there)."""
        return getattr(importlib.import_module(self.module), self.function)  # type: ignore[no-any-return]


class UnknownFlow(BadArgument, ValueError):
    """A flow name that is not one of the scheduled flows."""


SCHEDULED = (
    ScheduledFlow("ingest", "flows.ingest", "ingest_flow", "ingest"),
    ScheduledFlow("match", "flows.match", "match_flow", "match"),
    ScheduledFlow("apply_merges", "flows.apply_merges", "apply_merges_flow", "apply-merges"),
    ScheduledFlow("export", "flows.export", "export_flow", "export"),
    ScheduledFlow("anonymize", "flows.anonymize", "anonymize_flow", "anonymize"),
)


def scheduled_flow(name: str) -> ScheduledFlow:
    """The scheduled flow called `name` (settings key or Prefect name: `apply_merges`/`apply-merges`)."""
    wanted = name.strip().lower().replace("-", "_")
    for spec in SCHEDULED:
        if spec.key == wanted:
            return spec
    raise UnknownFlow(f"unknown flow {name!r}; choose one of {', '.join(s.key for s in SCHEDULED)}")


@dataclass
class DeploymentPlan:
    """What `idres serve` will serve, and what it left out and why."""

    deployments: list[RunnerDeployment]
    skipped: dict[str, str]  # flow key -> reason


def build_deployments(settings: Settings) -> DeploymentPlan:
    """One deployment per enabled flow with its cron schedule and the store as parameter."""
    from prefect.schedules import Cron
    from prefect.types.entrypoint import EntrypointType

    deployments: list[RunnerDeployment] = []
    skipped: dict[str, str] = {}
    for spec in SCHEDULED:
        if spec.key in settings.schedules.disabled:
            skipped[spec.key] = "disabled in settings (schedules.disabled)"
            continue
        try:
            flow = spec.load()
        except (ImportError, AttributeError) as error:
            skipped[spec.key] = f"{spec.module}.{spec.function} is not available: {error}"
            continue
        cron = spec.cron(settings.schedules)
        deployments.append(
            cast(
                "RunnerDeployment",
                flow.to_deployment(
                    name=spec.deployment_name,
                    schedules=[Cron(cron, timezone=settings.schedules.timezone)] if cron else None,
                    parameters={"store": str(settings.store)},
                    tags=["idres"],
                    description=f"idres {spec.flow_name}: {(flow.description or '').strip()}",
                    # see ScheduledFlow.entrypoint; the installed project imports from any directory
                    entrypoint_type=EntrypointType.MODULE_PATH,
                ),
            )
        )
    return DeploymentPlan(deployments, skipped)


def _answers(api_url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{api_url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class ServerStartError(Unavailable, RuntimeError):
    """`idres serve` could not start its local Prefect server (the port is taken, or it did not come up)."""


@contextmanager
def local_prefect_server(port: int, log_file: Path, timeout_s: float = 120.0) -> Iterator[str]:
    """A Prefect server (API, UI and scheduler) on 127.0.0.1:`port` for the block; yields its API URL.

    Prefect's own temporary server runs no scheduler, so schedules would never fire: `idres serve`
    starts a real one instead, or reuses the one already answering on that port.
    """
    api_url = f"http://127.0.0.1:{port}/api"
    if _answers(api_url):
        yield api_url
        return
    if _port_taken(port):
        raise ServerStartError(f"port {port} is taken by something that is not a Prefect server: pass --port")
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        command = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1"]
        # its own session: Ctrl-C in the terminal stops the runner first, which then pauses the
        # schedules through this server before the server is stopped below
        server = subprocess.Popen(
            [*command, "--port", str(port), "--analytics-off"],
            stdout=log,
            stderr=log,
            start_new_session=True,
            # its UI talks to this port (not 4200); the just-registered deployments are scheduled
            # within seconds, not a minute
            env={**server_environment(port), "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "10"},
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not _answers(api_url):
            if server.poll() is not None or time.monotonic() > deadline:
                raise ServerStartError(f"the Prefect server did not start on port {port}: see {log_file}")
            time.sleep(0.5)
        yield api_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
