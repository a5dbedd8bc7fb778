"""Prepare the process for running Prefect flows from the `idres` command."""

from __future__ import annotations

import os


def prepare_prefect() -> None:
    """Quiet Prefect's telemetry: this machine has no route to it and would log an error every run."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
