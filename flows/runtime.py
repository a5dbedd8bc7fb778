"""Prepare the process for running Prefect flows from the `idres` command."""

from __future__ import annotations

import os


def prepare_prefect() -> None:
    """Quiet Prefect's telemetry (no route to it here) and give its temporary server time to start."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # The temporary local server Prefect starts when no API URL is set needs several seconds, and far
    # more on a busy 2-core machine than its 20 s default allows; a slow start beats a failed run.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
