"""Prepare the process for running Prefect flows from the `idres` command."""

from __future__ import annotations

import os

from idres.settings import Settings


def prepare_prefect(settings: Settings) -> None:
    """Quiet Prefect's telemetry: this machine has no route to it and would log an error every run."""
    del settings  # kept for symmetry with other entry points; Prefect reads its own PREFECT_* settings
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
